"""The event log is append-only and hash-chained; verify_events finds the first broken link."""

from io import StringIO

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import DatabaseError, connection, transaction

from dispatch.models import Event
from dispatch.services import incident_report

# Events are numbered and chained when their transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def unsigned(settings, tmp_path):
    """Check the chain alone: no signing key and no checkpoints file (tests/test_checkpoints.py signs)."""
    settings.EVENT_SIGNING_KEY = str(tmp_path / "no_key")
    settings.EVENT_CHECKPOINTS_FILE = str(tmp_path / "checkpoints.jsonl")


@pytest.fixture
def log(cast):
    """Write a few events: two incidents in 凤庆县 with their tickets."""
    for title in ("河水漫堤", "道路积水"):
        incident_report(actor=cast.dispatcher, category="flood", severity=2, lon=99.95, lat=24.6, title=title)
    events = list(Event.objects.order_by("seq"))
    assert len(events) >= 6
    return events


def verify():
    out = StringIO()
    call_command("verify_events", stdout=out)
    return out.getvalue().strip()


def behind_the_systems_back(sql, params):
    """Run SQL with the append-only trigger switched off, as someone with the owner's rights could."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE dispatch_event DISABLE TRIGGER dispatch_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE dispatch_event ENABLE TRIGGER dispatch_event_append_only")


def test_an_empty_log_is_intact():
    assert verify() == "OK: 0 events, chain intact; no signed checkpoint yet"


def test_an_untouched_log_is_intact(log):
    assert verify() == f"OK: {len(log)} events, chain intact; no signed checkpoint yet"


def test_an_edited_payload_is_named_by_its_seq(log):
    edited = log[3]
    behind_the_systems_back(
        "UPDATE dispatch_event SET payload = jsonb_set(payload, '{forged}', 'true') WHERE seq = %s", [edited.seq]
    )
    with pytest.raises(CommandError) as broken:
        verify()
    assert str(broken.value) == (
        f"BROKEN at seq {edited.seq} ({edited.name}): "
        "its content does not match its hash (edited after it was written)"
    )
    assert broken.value.returncode == 1


def test_a_deleted_event_breaks_the_link_of_the_next_one(log):
    behind_the_systems_back("DELETE FROM dispatch_event WHERE seq = %s", [log[2].seq])
    with pytest.raises(CommandError, match=rf"^BROKEN at seq {log[3].seq} \({log[3].name}\): its prev_hash"):
        verify()


def test_the_command_line_exits_with_status_1_when_broken(log, capsys):
    behind_the_systems_back("UPDATE dispatch_event SET name = 'ticket.closed' WHERE seq = %s", [log[1].seq])
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "verify_events"]).execute()
    assert exited.value.code == 1
    assert f"BROKEN at seq {log[1].seq} (ticket.closed)" in capsys.readouterr().err


@pytest.mark.parametrize("statement", [
    "UPDATE dispatch_event SET payload = '{}' WHERE seq = %s",
    "DELETE FROM dispatch_event WHERE seq = %s",
], ids=["update", "delete"])
def test_the_trigger_refuses_changes_to_the_log(log, statement):
    with pytest.raises(DatabaseError, match="the event log is append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [log[0].seq])
    assert list(Event.objects.order_by("seq")) == log
    assert Event.objects.get(seq=log[0].seq).payload == log[0].payload
    assert verify() == f"OK: {len(log)} events, chain intact; no signed checkpoint yet"


def test_the_orm_cannot_edit_an_event_either(log):
    with pytest.raises(DatabaseError, match="UPDATE refused"):
        with transaction.atomic():
            Event.objects.filter(seq=log[0].seq).update(payload={"forged": True})
