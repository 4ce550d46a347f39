"""Number and chain events when their transaction commits, in PostgreSQL.

A deferred constraint trigger takes the EventHead row's lock at commit and gives each new
event its seq, prev_hash and hash = sha256("<prev_hash>:<seq>:<body_hash>"); the append-only
guard lets exactly that one change through. Events written before this migration are
chained again in the new form (verify_events checks the whole log the same way).
"""

from django.db import migrations, models

SEQUENCER = """
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
"""

UNSEQUENCER = """
DROP TRIGGER dispatch_event_sequence ON dispatch_event;
DROP FUNCTION dispatch_event_sequence();
CREATE OR REPLACE FUNCTION dispatch_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused on event %', TG_OP, OLD.seq;
END;
$$ LANGUAGE plpgsql;
"""


def rechain(apps, schema_editor):
    from dispatch.events import GENESIS, body_digest, link_digest

    Event = apps.get_model("dispatch", "Event")
    EventHead = apps.get_model("dispatch", "EventHead")
    previous = GENESIS
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE dispatch_event DISABLE TRIGGER dispatch_event_append_only")
        for event in Event.objects.order_by("seq").iterator(chunk_size=2000):
            event.body_hash = body_digest(
                name=event.name, incident_id=event.incident_id, ticket_id=event.ticket_id, audience=event.audience,
                actor_id=event.actor_id, payload=event.payload, created_at=event.created_at,
            )
            event.prev_hash = previous
            event.hash = previous = link_digest(prev_hash=previous, seq=event.seq, body_hash=event.body_hash)
            event.save(update_fields=["body_hash", "prev_hash", "hash"])
        cursor.execute("ALTER TABLE dispatch_event ENABLE TRIGGER dispatch_event_append_only")
    EventHead.objects.filter(pk=1).update(last_hash=previous)


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0008_drop_audience_head")]

    operations = [
        migrations.AlterField(
            model_name="event", name="seq",
            field=models.BigIntegerField(help_text="Given at commit, in commit order.", null=True, unique=True),
        ),
        migrations.AddField(
            model_name="event", name="body_hash",
            field=models.CharField(default="", help_text="SHA-256 of the content.", max_length=64),
        ),
        migrations.AlterField(model_name="event", name="prev_hash", field=models.CharField(default="", max_length=64)),
        migrations.AlterField(model_name="event", name="hash", field=models.CharField(default="", max_length=64)),
        migrations.RunPython(rechain, migrations.RunPython.noop),
        migrations.RunSQL(SEQUENCER, UNSEQUENCER),
    ]
