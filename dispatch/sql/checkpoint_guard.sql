-- The checkpoints' append-only guard, installed by migration 0011.
-- Frozen with that migration: a change is a new migration reading a new file.
--
-- A signed checkpoint is never changed or removed; like the event log's guard, only an owner who
-- switches the trigger off can, and the checkpoints file outside the database still tells.

CREATE FUNCTION dispatch_checkpoint_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'checkpoints are append-only: % refused on the checkpoint at seq %', TG_OP, OLD.seq;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dispatch_checkpoint_append_only
    BEFORE UPDATE OR DELETE ON dispatch_checkpoint
    FOR EACH ROW EXECUTE FUNCTION dispatch_checkpoint_append_only();
