-- The security audit's sequencer and append-only guard, installed by migration 0012.
-- Frozen with that migration: a change is a new migration reading a new file.
--
-- Like the event log (event_sequencer.sql): a deferred constraint trigger numbers each new record
-- at commit and chains hash = sha256("<prev_hash>:<seq>:<body_hash>"), under a transaction-level
-- advisory lock so seqs follow commit order; the guard lets exactly that one change through.
-- dispatch/services/audit.py computes the same hash in Python.

CREATE FUNCTION dispatch_securityrecord_sequence() RETURNS trigger AS $$
DECLARE
    next_seq bigint;
    prev text;
    chained text;
BEGIN
    PERFORM pg_advisory_xact_lock(7264151320051200012);
    SELECT seq + 1, hash INTO next_seq, prev FROM dispatch_securityrecord
        WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    IF next_seq IS NULL THEN
        next_seq := 1;
        prev := repeat('0', 64);
    END IF;
    chained := encode(sha256(convert_to(prev || ':' || next_seq || ':' || NEW.body_hash, 'UTF8')), 'hex');
    UPDATE dispatch_securityrecord SET seq = next_seq, prev_hash = prev, hash = chained WHERE id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER dispatch_securityrecord_sequence AFTER INSERT ON dispatch_securityrecord
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dispatch_securityrecord_sequence();

CREATE FUNCTION dispatch_securityrecord_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: the sequencer numbering and chaining a new record, once.
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND (NEW.id, NEW.at, NEW.kind, NEW.outcome, NEW.username, NEW.user_id, NEW.address, NEW.detail, NEW.body_hash)
       IS NOT DISTINCT FROM (OLD.id, OLD.at, OLD.kind, OLD.outcome, OLD.username, OLD.user_id, OLD.address,
            OLD.detail, OLD.body_hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the security audit is append-only: % refused on record %', TG_OP, OLD.seq;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dispatch_securityrecord_append_only
    BEFORE UPDATE OR DELETE ON dispatch_securityrecord
    FOR EACH ROW EXECUTE FUNCTION dispatch_securityrecord_append_only();
