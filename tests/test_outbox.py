"""The notice outbox: pages are rows written with their rung, sent by any worker, retried, and never twice."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from api import shapes
from dispatch.models import Event, Notice, NoticeStatus, Ticket
from dispatch.representations import notice_data
from dispatch.services import (
    incident_report,
    notices_send_due,
    ticket_accept,
    ticket_deliver,
    ticket_escalate_now,
    tickets_escalate_due,
)
from dispatch.services.notices import _claim, lease
from geo.models import SubCenter
from tests.screens import dispatcher_token, login_as, orm
from tests.screens import report as report_over_http

pytestmark = pytest.mark.django_db

PHONE = "0883-5550101"
RETRY_S = 1
MAX_ATTEMPTS = 4
# Every pass is this far after the one before: later than any back-off or lease in these tests.
PASS = timedelta(minutes=10)


class Gateway:
    """A stand-in SMS gateway on 127.0.0.1 (the one thing that leaves the machine).

    It answers the first `failures` posts with `status` and `trouble`, then 200, each after
    `delay_s`, and keeps every request as (Idempotency-Key header, JSON body).
    """

    def __init__(self, failures=0, status=500, delay_s=0.0, trouble=b"gateway trouble"):
        self.requests, self.lock = [], threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway.lock:
                    gateway.requests.append((self.headers["Idempotency-Key"], body))
                    count = len(gateway.requests)
                time.sleep(delay_s)
                self.send_response(status if count <= failures else 200)
                self.end_headers()
                self.wfile.write(b"queued" if count > failures else trouble)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def keys(self):
        return [key for key, _ in self.requests]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def webhook(gateway):
    """Send notices to this gateway with small, fixed back-off settings."""
    return override_settings(
        NOTIFIER_BACKEND="dispatch.notifiers.WebhookNotifier", NOTIFIER_WEBHOOK_URL=gateway.url,
        NOTIFIER_TIMEOUT_S=2, NOTIFIER_RETRY_S=RETRY_S, NOTIFIER_MAX_ATTEMPTS=MAX_ATTEMPTS,
        LEADER_PHONES="13800000001,13800000002",
    )


@pytest.fixture
def dispatcher(cast, terminals_online):
    SubCenter.objects.filter(code="530921-water").update(duty_phone=PHONE)
    return cast.dispatcher


def report(dispatcher):
    """Report a flood in 凤庆县 (severity 4: one ticket, to 530921-water); return its ticket."""
    incident = incident_report(actor=dispatcher, category="flood", severity=4, lon=99.95, lat=24.6, title="河水漫堤").incident
    return incident.tickets.get()


def page(ticket, now=None):
    """Take the ticket to the duty-phone rung at once; return the notice this wrote."""
    assert ticket_escalate_now(ticket_id=ticket.id, reason="no live terminal", now=now)[1]
    return Notice.objects.filter(ticket=ticket, level=3).latest("id")


def passes(count, start=None):
    """Run `count` worker passes, each PASS after the one before; return how many notices each took."""
    start = start or timezone.now()
    return [notices_send_due(now=start + n * PASS) for n in range(1, count + 1)]


def outcomes(notice):
    return list(notice.tries.order_by("number").values_list("outcome", flat=True))


# ---- a notice is a row, written with its rung -------------------------------------------


def test_notice_is_written_in_the_escalation_transaction_and_sent_by_a_later_pass(dispatcher, django_capture_on_commit_callbacks):
    ticket = report(dispatcher)
    with pytest.raises(RuntimeError), transaction.atomic():  # a crash before the commit: neither is kept
        page(ticket)
        raise RuntimeError("crash")
    assert not Notice.objects.exists() and not Event.objects.filter(name="ticket.overdue").exists()

    with Gateway() as gateway, webhook(gateway):
        # Committed, and then the process dies: no after-commit work ever runs.
        with django_capture_on_commit_callbacks(execute=False):
            notice = page(ticket)
        assert Event.objects.filter(ticket=ticket, name="ticket.overdue").count() == 1
        assert (notice.recipient, notice.status, notice.attempts) == (PHONE, NoticeStatus.PENDING, 0)
        assert gateway.requests == []  # nothing leaves before a worker pass
        assert passes(2) == [1, 0]
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, outcomes(notice)) == (NoticeStatus.SENT, 1, ["sent"])
    ((key, body),) = gateway.requests
    assert key == notice.idempotency_key
    assert body | {"text": None} == {"to": PHONE, "level": 3, "ticket": ticket.id, "incident": ticket.incident_id, "text": None}
    assert body["text"].endswith("no live terminal")


def test_the_worker_command_sends_due_notices(dispatcher):
    ticket = report(dispatcher)
    notice = page(ticket)
    with Gateway() as gateway, webhook(gateway):
        call_command("run_dispatch_worker", "--once", stdout=StringIO())
    assert gateway.keys() == [notice.idempotency_key]
    assert Notice.objects.get(pk=notice.pk).status == NoticeStatus.SENT


def test_leaders_get_one_notice_each_at_rung_four(dispatcher):
    ticket = report(dispatcher)
    with Gateway() as gateway, webhook(gateway):
        for rung in range(4):
            tickets_escalate_due(now=ticket.due_at + rung * timedelta(seconds=30))
        assert passes(1) == [3]
    assert sorted(body["to"] for _, body in gateway.requests) == [PHONE, "13800000001", "13800000002"]
    assert len(set(gateway.keys())) == 3


# ---- retries ---------------------------------------------------------------------------


def test_gateway_failing_three_times_gets_one_more_try_with_the_same_key(dispatcher):
    notice = page(report(dispatcher))
    start = timezone.now()
    with Gateway(failures=3) as gateway, webhook(gateway):
        delays = []
        for n in range(1, 4):
            assert notices_send_due(now=start + n * PASS) == 1
            notice.refresh_from_db()
            assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, n)
            assert "HTTP 500" in notice.last_error
            delays.append(notice.next_attempt_at - notice.tries.get(number=n).finished_at)
            assert notices_send_due(now=notice.next_attempt_at - timedelta(milliseconds=1)) == 0  # not before its back-off
        assert passes(3, start + 3 * PASS) == [1, 0, 0]
    assert delays == [timedelta(seconds=RETRY_S * 2**n) for n in range(3)]
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error, notice.next_attempt_at) == (NoticeStatus.SENT, 4, "", None)
    assert notice.sent_at is not None
    assert gateway.keys() == [notice.idempotency_key] * 4, "one more request after three failures, same key each time"
    assert outcomes(notice) == ["error", "error", "error", "sent"]
    assert [t.detail for t in notice.tries.order_by("number")][-1] == "HTTP 200 queued"
    assert not Event.objects.filter(name="notice.failed").exists()


def test_gateway_that_always_fails_leaves_the_notice_failed_on_the_console(dispatcher, cast):
    notice = page(report(dispatcher))
    with Gateway(failures=100) as gateway, webhook(gateway):
        assert passes(MAX_ATTEMPTS + 2) == [1] * MAX_ATTEMPTS + [0, 0]
    assert len(gateway.requests) == MAX_ATTEMPTS
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.next_attempt_at) == (NoticeStatus.FAILED, MAX_ATTEMPTS, None)
    assert outcomes(notice) == ["error"] * MAX_ATTEMPTS
    assert "HTTP 500" in notice.last_error and notice.failed_at is not None

    (event,) = Event.objects.filter(name="notice.failed")
    assert (event.ticket_id, event.incident_id, event.audience) == (notice.ticket_id, notice.incident_id, [])
    assert event.payload == {"notice": notice_data(notice)}
    assert event.payload["notice"]["to"] == PHONE

    listed = APIClient()
    listed.force_authenticate(cast.dispatcher)
    answer = listed.get("/api/v1/notices", {"status": "failed"})
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"notices": [notice_data(notice)], "limit": 500, "truncated": False}
    assert listed.get("/api/v1/notices", {"status": "sent"}).json()["notices"] == []


def test_a_refused_notice_is_not_retried(dispatcher):
    notice = page(report(dispatcher))
    with Gateway(failures=100, status=400) as gateway, webhook(gateway):
        assert passes(3) == [1, 0, 0]
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, outcomes(notice)) == (NoticeStatus.FAILED, 1, ["refused"])
    assert notice.last_error == "HTTP 400 gateway trouble"
    assert Event.objects.filter(name="notice.failed").count() == 1


def test_a_try_lost_with_its_worker_is_tried_again_after_the_lease(dispatcher):
    notice = page(report(dispatcher))
    start = timezone.now()
    with Gateway() as gateway, webhook(gateway):
        _claim(start)  # a worker takes the notice, then dies before the gateway answers
        assert notices_send_due(now=start + lease() - timedelta(seconds=1)) == 0, "held while its lease lasts"
        assert notices_send_due(now=start + lease()) == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, outcomes(notice)) == (NoticeStatus.SENT, 2, ["lost", "sent"])
    assert gateway.keys() == [notice.idempotency_key]


# ---- never twice -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_passing_at_once_never_send_the_same_notice_twice(cast, terminals_online):
    SubCenter.objects.update(duty_phone=PHONE)
    for _ in range(3):
        incident = incident_report(actor=cast.dispatcher, category="flood", severity=2, lon=99.95, lat=24.6, title="t").incident
        for ticket in incident.tickets.all():
            page(ticket)
    notices = dict(Notice.objects.values_list("idempotency_key", "id"))
    assert len(notices) == 12
    now, barrier, taken = timezone.now() + PASS, threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            taken.append(notices_send_due(now=now, batch=100))
        finally:
            connection.close()

    with Gateway(delay_s=0.05) as gateway, webhook(gateway):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sum(taken) == 12 and all(taken), f"both workers took some: {taken}"
    assert sorted(gateway.keys()) == sorted(notices), "every notice exactly once"
    assert set(Notice.objects.values_list("status", "attempts")) == {(NoticeStatus.SENT, 1)}


def test_the_database_refuses_a_second_notice_to_the_same_number_for_the_same_step(dispatcher):
    notice = page(report(dispatcher))
    twin = Notice.objects.values().get(pk=notice.pk)
    twin.update(id=None, idempotency_key="another key")
    with pytest.raises(IntegrityError, match="notice_once_per_step"), transaction.atomic():
        Notice.objects.create(**twin)


def test_the_same_rung_of_a_later_stage_pages_the_number_again(dispatcher, cast):
    ticket = report(dispatcher)
    first = page(ticket)  # delivery overdue, rung 3
    ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    ticket, _ = ticket_accept(actor=cast.water_op, ticket_id=ticket.id)
    second = page(ticket)  # confirmation overdue, rung 3: another step, another notice
    assert (first.stage, second.stage) == ("delivery", "confirmation")
    assert first.recipient == second.recipient == PHONE
    assert first.idempotency_key != second.idempotency_key
    assert Ticket.objects.get(pk=ticket.pk).escalation_level == 3


# ---- reading ---------------------------------------------------------------------------


def test_notice_list_is_for_the_command_center_only(dispatcher, cast):
    page(report(dispatcher))
    for user, status in ((cast.leader, 200), (cast.admin, 200), (cast.water_op, 403)):
        client = APIClient()
        client.force_authenticate(user)
        assert client.get("/api/v1/notices").status_code == status, user.username
    client = APIClient()
    client.force_authenticate(cast.dispatcher)
    answer = client.get("/api/v1/notices", {"status": "failed,lost"})
    assert answer.status_code == 400 and "lost" in answer.json()["errors"]["status"][0]


def test_documented_notice_shape_matches_the_representation(dispatcher):
    assert set(shapes.NoticeOut().fields) == set(notice_data(page(report(dispatcher))))


# ---- the console -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_console_lists_failed_notices_on_load_and_live_as_text(cast, servers, browser):  # noqa: F811 (fixtures)
    orm(lambda: SubCenter.objects.filter(code="530921-water").update(duty_phone=PHONE))
    port = servers.start()
    key = dispatcher_token(cast)
    markup = b"<img src=x onerror=alert(1)> busy"  # what a gateway says is shown as text, never as HTML
    with Gateway(failures=100, status=400, trouble=markup) as gateway, webhook(gateway):
        # No terminal of 530921-water is online, so each report pages its duty phone at once.
        first = report_over_http(port, key, "第一次 first")["tickets"][0]["id"]
        assert orm(lambda: notices_send_due()) == 1
        console = login_as(browser, f"http://127.0.0.1:{port}", cast.dispatcher, "/console/").page
        console.wait_for_selector(f"#notices-failed li:has-text('#{first}')")
        second = report_over_http(port, key, "第二次 second")["tickets"][0]["id"]
        assert orm(lambda: notices_send_due()) == 1
        item = console.wait_for_selector(f"#notices-failed li:has-text('#{second}')")  # from notice.failed, live
    assert console.is_visible("#notices-failed-card")
    text = item.inner_text()
    assert PHONE in text and "HTTP 400 <img src=x onerror=alert(1)> busy" in text
    assert console.locator("#notices-failed li").count() == 2
    assert console.locator("#notices-failed img").count() == 0
