"""Number and chain events when their transaction commits, in PostgreSQL.

A deferred constraint trigger takes the EventHead row's lock at commit and gives each new
event its seq, prev_hash and hash = sha256("<prev_hash>:<seq>:<body_hash>"); the append-only
guard lets exactly that one change through. Events written before this migration are
chained again in the new form (verify_events checks the whole log the same way).
"""

import hashlib
import json
from pathlib import Path

from django.db import migrations, models

SEQUENCER = (Path(__file__).resolve().parent.parent / "sql" / "event_sequencer.sql").read_text()


UNSEQUENCER = """
DROP TRIGGER dispatch_event_sequence ON dispatch_event;
DROP FUNCTION dispatch_event_sequence();
CREATE OR REPLACE FUNCTION dispatch_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused on event %', TG_OP, OLD.seq;
END;
$$ LANGUAGE plpgsql;
"""


GENESIS = "0" * 64


# The digests as they were when this migration was written (frozen: dispatch/events.py may move on).
def body_digest(*, name, incident_id, ticket_id, audience, actor_id, payload, created_at):
    content = json.dumps(
        [name, incident_id, ticket_id, sorted(audience), actor_id, payload, created_at.isoformat()],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()


def link_digest(*, prev_hash, seq, body_hash):
    return hashlib.sha256(f"{prev_hash}:{seq}:{body_hash}".encode()).hexdigest()


def rechain(apps, schema_editor):
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
