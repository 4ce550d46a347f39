from django.db import migrations

GUARD = """
CREATE FUNCTION dispatch_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused on event %', TG_OP, OLD.seq;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dispatch_event_append_only
    BEFORE UPDATE OR DELETE ON dispatch_event
    FOR EACH ROW EXECUTE FUNCTION dispatch_event_append_only();
"""

UNGUARD = """
DROP TRIGGER dispatch_event_append_only ON dispatch_event;
DROP FUNCTION dispatch_event_append_only();
"""


def create_head(apps, schema_editor):
    apps.get_model("dispatch", "EventHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0002_workflow")]
    operations = [
        migrations.RunSQL(GUARD, UNGUARD),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
