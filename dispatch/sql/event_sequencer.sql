-- The event sequencer and the append-only guard, installed by migration 0009.
-- Frozen with that migration: a change is a new migration reading a new file.
--
-- A deferred constraint trigger takes the EventHead row's lock at commit and gives each new
-- event its seq, prev_hash and hash = sha256("<prev_hash>:<seq>:<body_hash>"); the guard lets
-- exactly that one change through. dispatch/events.py computes the same hash in Python.

CREATE FUNCTION dispatch_event_sequence() RETURNS trigger AS $$
DECLARE
    next_seq bigint;
    prev text;
    chained text;
BEGIN
    SELECT seq + 1, last_hash INTO next_seq, prev FROM dispatch_eventhead WHERE id = 1 FOR UPDATE;
    chained := encode(sha256(convert_to(prev || ':' || next_seq || ':' || NEW.body_hash, 'UTF8')), 'hex');
    UPDATE dispatch_eventhead SET seq = next_seq, last_hash = chained WHERE id = 1;
    UPDATE dispatch_event SET seq = next_seq, prev_hash = prev, hash = chained WHERE id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER dispatch_event_sequence AFTER INSERT ON dispatch_event
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dispatch_event_sequence();

CREATE OR REPLACE FUNCTION dispatch_event_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: the sequencer numbering and chaining a new event, once.
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND (NEW.id, NEW.name, NEW.incident_id, NEW.ticket_id, NEW.audience, NEW.actor_id, NEW.payload,
            NEW.created_at, NEW.body_hash)
       IS NOT DISTINCT FROM (OLD.id, OLD.name, OLD.incident_id, OLD.ticket_id, OLD.audience, OLD.actor_id,
            OLD.payload, OLD.created_at, OLD.body_hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the event log is append-only: % refused on event %', TG_OP, OLD.seq;
END;
$$ LANGUAGE plpgsql;
