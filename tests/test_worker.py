"""The deadline worker: the escalation ladder, races between workers, the notifiers, SIGTERM.

The outbox itself (retries, idempotency keys, two senders at once) is tests/test_outbox.py.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.test import override_settings
from django.utils import timezone

from dispatch import notifiers
from dispatch.errors import Invalid, NotFound
from dispatch.management.commands.run_dispatch_worker import worker_loop
from dispatch.models import Event, Notice, Ticket
from dispatch.services import (
    incident_report,
    notices_send_due,
    ticket_accept,
    ticket_deliver,
    ticket_escalate_now,
    tickets_escalate_due,
    user_add,
)
from geo.models import SubCenter

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent

LEADER_PHONES = "13800000001, 13800000002"
STEP = timedelta(seconds=30)
# Tests that commit for real (threads and processes see only committed rows); conftest's
# sample_city fixture restores the seeded rows that an earlier transactional test flushed.
TRANSACTIONAL = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_notifier():
    """Send notices to dispatch.notifiers.outbox, with two leader phones and a 30 s step; yield what was sent."""
    notifiers.outbox.clear()
    with override_settings(
        NOTIFIER_BACKEND="dispatch.notifiers.MemoryNotifier", LEADER_PHONES=LEADER_PHONES, ESCALATION_STEP_S=30
    ):
        yield Sent()
    notifiers.outbox.clear()


class Sent:
    """The messages MemoryNotifier has sent, in order (a live view of dispatch.notifiers.outbox)."""

    def __iter__(self):
        return (message for message, _ in notifiers.outbox)

    def __len__(self):
        return len(notifiers.outbox)

    def __getitem__(self, index):
        return notifiers.outbox[index][0]

    def __eq__(self, other):
        return list(self) == other


@pytest.fixture
def city(sample_city, terminals_online):
    """Lincang, with a duty phone for every sub-center."""
    SubCenter.objects.update(duty_phone=Concat(Value("0883-"), Cast("id", CharField())))


@pytest.fixture
def dispatcher(city):
    return user_add(username="dispatcher", role="dispatcher")[0]


def report(dispatcher, severity=4):
    """Report a flood in 凤庆县: severity 4 sends one ticket (water), severity 2 sends four."""
    incident = incident_report(
        actor=dispatcher, category="flood", severity=severity, lon=99.95, lat=24.6, title="河水漫堤"
    ).incident
    return incident


@pytest.fixture
def ticket(dispatcher):
    (ticket,) = report(dispatcher).tickets.all()
    return ticket


@pytest.fixture
def escalate(django_capture_on_commit_callbacks):
    """Run one worker pass at a given instant: climb, ring the doorbell after commit, send due notices."""

    def run(now, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            claimed = tickets_escalate_due(now=now, **kwargs)
        notices_send_due(now=now)
        return claimed

    return run


@pytest.fixture
def escalate_now(django_capture_on_commit_callbacks):
    """Call ticket_escalate_now, then send the notices it wrote as the next worker pass would."""

    def run(ticket, reason, now=None):
        with django_capture_on_commit_callbacks(execute=True):
            result = ticket_escalate_now(ticket_id=ticket.id, reason=reason, now=now)
        notices_send_due(now=now)
        return result

    return run


def overdue_events(ticket):
    return list(Event.objects.filter(ticket=ticket, name="ticket.overdue").order_by("seq", "id"))


def rungs(ticket):
    return [(e.payload["level"], e.payload["action"], e.payload["stage"]) for e in overdue_events(ticket)]


# ---- the ladder ----------------------------------------------------------------------


def test_nothing_escalates_before_its_deadline(ticket, escalate):
    assert ticket.due_at == ticket.issued_at + timedelta(seconds=10)
    assert escalate(ticket.issued_at) == 0
    assert escalate(ticket.due_at - timedelta(microseconds=1)) == 0
    ticket.refresh_from_db()
    assert (ticket.overdue, ticket.escalation_level) == (False, 0)
    assert overdue_events(ticket) == []


def test_each_rung_fires_once_in_order_at_its_time(ticket, escalate, memory_notifier):
    due = ticket.due_at
    expected = []
    for level, action in enumerate(["repush", "alert", "notify_duty_phone", "notify_leaders"], start=1):
        at = due + (level - 1) * STEP
        assert escalate(at - timedelta(seconds=1)) == 0, f"rung {level} fired early"
        assert escalate(at) == 1
        assert escalate(at) == 0, f"rung {level} fired twice"
        expected.append((level, action, "delivery"))
        assert rungs(ticket) == expected
        ticket.refresh_from_db()
        assert ticket.overdue and ticket.escalation_level == level
        assert ticket.due_at == (at + STEP if level < 4 else None)
    assert escalate(due + timedelta(hours=10)) == 0  # nothing after the leaders

    events = overdue_events(ticket)
    assert [e.payload["ticket"]["escalation_level"] for e in events] == [1, 2, 3, 4]
    assert all(e.audience == [ticket.subcenter_id] and e.actor is None for e in events)
    phone = ticket.subcenter.duty_phone
    assert [(n.to, n.level, n.ticket, n.incident) for n in memory_notifier] == [
        (phone, 3, ticket.id, ticket.incident_id),
        ("13800000001", 4, ticket.id, ticket.incident_id),
        ("13800000002", 4, ticket.id, ticket.incident_id),
    ]
    assert "超时未送达" in memory_notifier[0].text and f"#{ticket.id}" in memory_notifier[0].text


def test_rungs_write_notices_as_rows_that_a_worker_pass_sends(ticket, django_capture_on_commit_callbacks, memory_notifier):
    due = ticket.due_at
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for rung in range(4):
            tickets_escalate_due(now=due + rung * STEP)
    assert callbacks, "the doorbell waits for the commit"
    assert Ticket.objects.get(pk=ticket.pk).escalation_level == 4
    assert memory_notifier == []  # written, not sent: no after-commit work sends anything
    assert list(Notice.objects.values_list("level", "status")) == [(3, "pending"), (4, "pending"), (4, "pending")]
    assert notices_send_due(now=due + 4 * STEP) == 3
    assert [(n.to, n.level) for n in memory_notifier] == [
        (ticket.subcenter.duty_phone, 3), ("13800000001", 4), ("13800000002", 4),
    ]


def test_ticket_accepted_in_between_is_not_escalated_further(ticket, escalate):
    operator = user_add(username="op-water", role="operator", subcenter_code=ticket.subcenter.code)[0]
    escalate(ticket.due_at)
    ticket.refresh_from_db()
    assert (ticket.overdue, ticket.escalation_level) == (True, 1)
    late = ticket.due_at  # when rung 2 would have fired

    ticket_deliver(actor=operator, ticket_id=ticket.id)
    ticket, _ = ticket_accept(actor=operator, ticket_id=ticket.id)
    ticket.refresh_from_db()
    assert (ticket.overdue, ticket.escalation_level) == (False, 0)
    assert ticket.due_at == ticket.accepted_at + timedelta(seconds=60)

    assert late < ticket.due_at
    assert escalate(late) == 0
    assert escalate(ticket.due_at - timedelta(microseconds=1)) == 0
    ticket.refresh_from_db()
    assert (ticket.overdue, ticket.escalation_level) == (False, 0)
    assert rungs(ticket) == [(1, "repush", "delivery")]

    assert escalate(ticket.due_at) == 1  # the next stage has its own clock
    assert rungs(ticket)[-1] == (1, "repush", "confirmation")


def test_a_batch_takes_the_most_overdue_first(dispatcher, escalate):
    tickets = list(report(dispatcher, severity=2).tickets.order_by("id"))
    assert len(tickets) == 4
    start = timezone.now()
    for offset, ticket in zip([3, 1, 2, 0], tickets):
        Ticket.objects.filter(pk=ticket.pk).update(due_at=start + timedelta(seconds=offset))
    assert escalate(start + timedelta(seconds=10), batch=3) == 3
    assert list(Ticket.objects.filter(escalation_level=0).values_list("id", flat=True)) == [tickets[0].id]
    assert escalate(start + timedelta(seconds=10), batch=3) == 1


# ---- escalate at once ----------------------------------------------------------------


def test_escalate_now_phones_the_duty_phone_at_once(ticket, escalate, escalate_now, memory_notifier):
    now = timezone.now()
    ticket, changed = escalate_now(ticket, "no live terminal", now)
    assert changed
    assert (ticket.overdue, ticket.escalation_level, ticket.due_at) == (True, 3, now + STEP)
    assert [(n.to, n.level) for n in memory_notifier] == [(ticket.subcenter.duty_phone, 3)]
    assert memory_notifier[0].text.endswith("no live terminal")
    (event,) = overdue_events(ticket)
    assert event.payload | {"ticket": None} == {
        "ticket": None, "level": 3, "action": "notify_duty_phone", "stage": "delivery", "reason": "no live terminal",
    }

    assert escalate_now(ticket, "still no terminal", now)[1] is False  # already there
    assert len(memory_notifier) == 1 and len(overdue_events(ticket)) == 1
    assert escalate(now + STEP) == 1  # the worker takes it on to the leaders
    assert rungs(ticket)[-1] == (4, "notify_leaders", "delivery")


def test_escalate_now_needs_a_reason_and_a_ticket(ticket):
    with pytest.raises(Invalid):
        ticket_escalate_now(ticket_id=ticket.id, reason="  ")
    with pytest.raises(NotFound):
        ticket_escalate_now(ticket_id=ticket.id + 1000, reason="no live terminal")


# ---- notifiers -----------------------------------------------------------------------


def test_log_notifier_is_the_default(ticket, escalate, caplog):
    with override_settings():
        del settings.NOTIFIER_BACKEND
        assert isinstance(notifiers.get_notifier(), notifiers.LogNotifier)
        with caplog.at_level("WARNING", logger="dispatch.notifiers"):
            for rung in range(3):
                escalate(ticket.due_at + rung * STEP)
    assert f"NOTIFY {ticket.subcenter.duty_phone} (level 3, ticket {ticket.id}" in caplog.text


def test_leaders_are_one_notice_to_leaders_without_phones(ticket, escalate, memory_notifier):
    with override_settings(LEADER_PHONES=""):
        for rung in range(4):
            escalate(ticket.due_at + rung * STEP)
    assert [(n.to, n.level) for n in memory_notifier] == [(ticket.subcenter.duty_phone, 3), ("leaders", 4)]


# ---- the command ---------------------------------------------------------------------


def test_worker_once_escalates_what_is_due(ticket):
    Ticket.objects.filter(pk=ticket.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    before = signal.getsignal(signal.SIGTERM)
    call_command("run_dispatch_worker", "--once", stdout=out)
    assert out.getvalue().strip() == "escalated 1 tickets"
    assert rungs(ticket) == [(1, "repush", "delivery")]
    assert signal.getsignal(signal.SIGTERM) is before


@TRANSACTIONAL
def test_two_workers_never_escalate_the_same_ticket_twice(dispatcher):
    for _ in range(6):
        report(dispatcher, severity=2)
    now = timezone.now() + timedelta(seconds=11)
    ids = list(Ticket.objects.values_list("id", flat=True))
    assert len(ids) == 24
    claimed, barrier = [], threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            while n := tickets_escalate_due(now=now, batch=3):
                claimed.append(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(claimed) == 24
    assert set(Ticket.objects.values_list("escalation_level", flat=True)) == {1}
    per_ticket = [Event.objects.filter(ticket_id=i, name="ticket.overdue").count() for i in ids]
    assert per_ticket == [1] * 24


@TRANSACTIONAL
def test_a_worker_skips_tickets_another_worker_holds(dispatcher):
    tickets = list(report(dispatcher, severity=2).tickets.order_by("id"))
    held = [t.id for t in tickets[:2]]
    now = timezone.now() + timedelta(seconds=11)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                list(Ticket.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert tickets_escalate_due(now=now) == 2  # does not wait for the held rows
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join(20)
    assert tickets_escalate_due(now=now) == 2
    assert tickets_escalate_due(now=now) == 0
    assert [Event.objects.filter(ticket=t, name="ticket.overdue").count() for t in tickets] == [1, 1, 1, 1]


def test_worker_loop_keeps_polling_until_asked_to_stop(ticket, caplog):
    Ticket.objects.filter(pk=ticket.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    started = time.monotonic()
    with caplog.at_level("INFO", logger="dispatch.worker"):
        assert worker_loop(stop=stop, interval=0.05) == 1
    assert 0.5 <= time.monotonic() - started < 5
    assert "worker stopped" in caplog.text
    assert rungs(ticket) == [(1, "repush", "delivery")]


def database_url():
    """Return a DATABASE_URL for the test database, for a worker started as a real process."""
    db = connection.settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    if not db["HOST"] or db["HOST"].startswith("/"):
        return f"postgres://{auth}@/{db['NAME']}" + (f"?host={db['HOST']}" if db["HOST"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@TRANSACTIONAL
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_process_escalates_then_stops_cleanly_on_signal(ticket, signum):
    Ticket.objects.filter(pk=ticket.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_dispatch_worker", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while Ticket.objects.get(pk=ticket.pk).escalation_level == 0:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the worker did not escalate the due ticket"
            time.sleep(0.1)
        time.sleep(0.3)  # a few more passes: still alive, nothing more to do
        assert process.poll() is None
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "worker stopped" in stderr
    assert rungs(ticket) == [(1, "repush", "delivery")]
