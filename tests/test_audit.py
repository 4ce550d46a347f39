"""The security audit (issue #12 part 7): who, when, from where, what, outcome — append-only, chained, signed.

Every record here comes from the real path: the login pages, the token endpoint, django-axes, the
role gate, the Django admin. Tampering is done as the database owner would (the guard switched off).
"""

import asyncio
import base64
import ipaddress
import json
import threading
from datetime import timedelta
from io import StringIO

import httpx
import psycopg
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from config.proxy import TrustedProxies
from dispatch import signing
from dispatch.models import Checkpoint, SecurityRecord, Ticket
from dispatch.security_signals import two_factor_enrolled, two_factor_failed, two_factor_reset
from dispatch.services import audit, checkpoint_sign_due, incident_report
from realtime.threads import HTTP_THREADS, WsgiInThreads
from tests.commands import command_complaint, command_output
from tests.conftest import password_of
from tests.second_factor import verified_login
from tests.test_db_roles import connect, roles  # noqa: F401 - the roles fixture, made by config/dbroles.py

API = "/api/v1"
LIMIT = 5


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def records(after=0):
    return list(SecurityRecord.objects.filter(id__gt=after).order_by("id"))


def mark():
    """Return the last record's id: force_login() is a login too, recorded like any other."""
    return SecurityRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0


def only(kind=None, after=0):
    """Return the one record written (of a kind); fail if there is not exactly one."""
    found = [r for r in records(after) if kind is None or r.kind == kind]
    assert len(found) == 1, [(r.kind, r.username, r.outcome) for r in records()]
    return found[0]


def token_login(username, password, **extra):
    return APIClient().post(f"{API}/auth/token", {"username": username, "password": password}, format="json", **extra)


# ---- what is recorded ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_login_on_the_page_is_one_record_with_who_what_where_and_outcome(client, cast):
    response = client.post("/login/", {"username": "t-dispatcher", "password": password_of("t-dispatcher")},
                           REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 302
    record = only()
    assert (record.kind, record.outcome, record.username, record.user_id, record.address) == (
        "login", "success", "t-dispatcher", cast.dispatcher.pk, "192.0.2.10")
    assert record.detail["path"] == "/login/" and timezone.now() - record.at < timedelta(seconds=30)


@pytest.mark.django_db
def test_a_failed_login_on_the_page_and_at_the_token_endpoint_is_one_record_each(client, cast):
    assert client.post("/login/", {"username": "t-leader", "password": "wrong"}, REMOTE_ADDR="192.0.2.11").status_code == 200
    page = only()
    assert (page.kind, page.outcome, page.username, page.address) == ("login.failed", "failure", "t-leader", "192.0.2.11")
    assert "wrong" not in json.dumps(page.detail)
    assert token_login("t-leader", "wrong", REMOTE_ADDR="192.0.2.12").status_code == 400
    (api,) = [r for r in records() if r.pk != page.pk]
    assert (api.kind, api.outcome, api.username, api.address, api.detail["credential"]) == (
        "login.failed", "failure", "t-leader", "192.0.2.12", "password")


@pytest.mark.django_db
def test_a_lockout_is_one_record_and_each_refused_login_after_it_another(cast):
    for _ in range(LIMIT):
        token_login("t-admin", "wrong", REMOTE_ADDR="192.0.2.13")
    assert token_login("t-admin", password_of("t-admin"), REMOTE_ADDR="192.0.2.13").status_code == 429
    assert [(r.kind, r.outcome) for r in records()] == (
        [("login.failed", "failure")] * (LIMIT - 1) + [("login.lockout", "locked"), ("login.refused", "refused")])
    lockout = only("login.lockout")
    assert (lockout.username, lockout.address) == ("t-admin", "192.0.2.13")


@pytest.mark.django_db
def test_a_token_issued_and_revoked_are_one_record_each(cast):
    response = token_login("t-water", password_of("t-water"), REMOTE_ADDR="192.0.2.14")
    assert response.status_code == 200
    issued = only()
    token = ApiToken.objects.get()
    assert (issued.kind, issued.outcome, issued.username, issued.user_id, issued.address) == (
        "token.issued", "success", "t-water", cast.water_op.pk, "192.0.2.14")
    assert issued.detail["prefix"] == token.prefix and response.json()["token"] not in json.dumps(issued.detail)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.delete(f"{API}/auth/token", REMOTE_ADDR="192.0.2.15").status_code == 204
    revoked = only("token.revoked")
    assert (revoked.username, revoked.address, revoked.detail["token_id"]) == ("t-water", "192.0.2.15", token.pk)


@pytest.mark.django_db
def test_a_403_is_a_denial_and_an_operators_404_is_not(cast, terminals_online):
    incident_report(actor=cast.dispatcher, category="flood", severity=2, lon=99.95, lat=24.6, title="河水漫堤")
    elsewhere = Ticket.objects.exclude(subcenter__code="530921-health").first()
    operator = APIClient()
    operator.force_login(cast.health_op)
    leader = APIClient()
    leader.force_login(cast.leader)
    start = mark()
    assert operator.get(f"{API}/tickets/{elsewhere.pk}", REMOTE_ADDR="192.0.2.16").status_code == 404
    assert not records(start)
    assert leader.post(f"{API}/incidents", {}, format="json", REMOTE_ADDR="192.0.2.17").status_code == 403
    denied = only(after=start)
    assert (denied.kind, denied.outcome, denied.username, denied.user_id, denied.address) == (
        "access.denied", "denied", "t-leader", cast.leader.pk, "192.0.2.17")
    assert (denied.detail["status"], denied.detail["method"], denied.detail["path"]) == (403, "POST", f"{API}/incidents")
    assert APIClient().get(f"{API}/tickets", REMOTE_ADDR="192.0.2.18").status_code == 401
    anonymous = records()[-1]
    assert (anonymous.kind, anonymous.username, anonymous.detail["status"], anonymous.address) == (
        "access.denied", "", 401, "192.0.2.18")


@pytest.mark.django_db
def test_admin_changes_are_recorded_one_each_even_a_bulk_delete(cast):
    admin = verified_login(APIClient(), cast.admin)  # an admin's session needs its second factor
    start = mark()
    response = admin.post("/admin/auth/group/add/", {"name": "auditors"}, REMOTE_ADDR="192.0.2.19")
    assert response.status_code == 302
    change = only(after=start)
    assert (change.kind, change.outcome, change.username, change.user_id, change.address) == (
        "admin.change", "success", "t-admin", cast.admin.pk, "192.0.2.19")
    assert (change.detail["action"], change.detail["model"], change.detail["object"]) == ("add", "group", "auditors")
    admin.post("/admin/auth/group/add/", {"name": "watchers"})
    from django.contrib.auth.models import Group

    ids = list(Group.objects.filter(name__in=["auditors", "watchers"]).values_list("pk", flat=True))
    admin.post("/admin/auth/group/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    deleted = [r for r in records() if r.kind == "admin.change" and r.detail["action"] == "delete"]
    assert sorted(r.detail["object"] for r in deleted) == ["auditors", "watchers"]


@pytest.mark.django_db
def test_the_audit_is_read_only_in_the_admin(cast):
    admin = verified_login(APIClient(), cast.admin)
    token_login("t-leader", "wrong")
    record = only("login.failed")
    assert admin.get("/admin/dispatch/securityrecord/").status_code == 200
    assert "t-leader" in admin.get(f"/admin/dispatch/securityrecord/{record.pk}/change/").content.decode()
    assert admin.get("/admin/dispatch/securityrecord/add/").status_code == 403
    assert admin.post(f"/admin/dispatch/securityrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_the_two_factor_signals_are_recorded(cast):
    request = RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.20")
    two_factor_enrolled.send(sender=None, request=request, user=cast.dispatcher, method="totp")
    two_factor_failed.send(sender=None, request=request, user=cast.dispatcher)
    two_factor_reset.send(sender=None, request=request, user=cast.dispatcher, by=cast.admin)
    assert [(r.kind, r.outcome, r.username, r.address) for r in records()] == [
        ("2fa.enrolled", "success", "t-dispatcher", "192.0.2.20"),
        ("2fa.failed", "failure", "t-dispatcher", "192.0.2.20"),
        ("2fa.reset", "success", "t-dispatcher", "192.0.2.20"),
    ]
    assert records()[0].detail["method"] == "totp" and records()[2].detail["by"] == "t-admin"


# ---- the address behind a trusted proxy --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_address_is_the_trusted_proxys_forwarded_one_and_never_an_untrusted_peers(seeded):
    async def failed_login(trusted, forwarded_for):
        app = TrustedProxies(WsgiInThreads(get_wsgi_application()), trusted)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(f"{API}/auth/token", json={"username": "nobody", "password": "x"},
                                       headers={"X-Forwarded-For": forwarded_for})
        assert response.status_code == 400

    try:
        asyncio.run(failed_login([ipaddress.ip_network("127.0.0.1/32")], "6.6.6.6, 198.51.100.9"))
        asyncio.run(failed_login([], "198.51.100.9"))  # no proxy configured: the header is ignored
    finally:
        close_http_threads_connections()
    assert [(r.kind, r.username, r.address) for r in SecurityRecord.objects.order_by("seq")] == [
        ("login.failed", "nobody", "198.51.100.9"), ("login.failed", "nobody", "127.0.0.1")]


def close_http_threads_connections():
    """Close the connection each HTTP worker thread opened, so the test database can be dropped."""
    size = HTTP_THREADS._max_workers
    barrier = threading.Barrier(size)  # one call on each thread: none may finish before all have started

    def close():
        connection.close()
        barrier.wait(timeout=10)

    for future in [HTTP_THREADS.submit(close) for _ in range(size)]:
        future.result()


# ---- append-only, chained, signed ----------------------------------------------------------------


@pytest.fixture
def key(settings, tmp_path):
    path = tmp_path / "event_signing_key"
    signing.key_create(path)
    settings.EVENT_SIGNING_KEY = str(path)
    settings.EVENT_CHECKPOINTS_FILE = str(tmp_path / "checkpoints.jsonl")
    settings.CHECKPOINT_INTERVAL_S = 60
    settings.CHECKPOINT_EVERY = 1000
    return path


@pytest.fixture
def signed_audit(cast, key):
    """Four records (two failed logins, a token issued, a 403), then a checkpoint signing the audit's head at 4."""
    token_login("t-leader", "wrong", REMOTE_ADDR="192.0.2.30")
    token_login("t-water", "wrong", REMOTE_ADDR="192.0.2.31")
    response = token_login("t-leader", password_of("t-leader"), REMOTE_ADDR="192.0.2.32")
    leader = APIClient()
    leader.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    leader.post(f"{API}/incidents", {}, format="json")
    incident_report(actor=cast.dispatcher, category="flood", severity=2, lon=99.95, lat=24.6, title="河水漫堤")
    assert checkpoint_sign_due(now=timezone.now())
    assert [r.seq for r in SecurityRecord.objects.order_by("seq")] == [1, 2, 3, 4]
    return list(SecurityRecord.objects.order_by("seq"))


def verify(*args):
    return command_output("verify_audit", *args)


def broken():
    return command_complaint("verify_audit")


def as_owner(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE dispatch_securityrecord DISABLE TRIGGER dispatch_securityrecord_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE dispatch_securityrecord ENABLE TRIGGER dispatch_securityrecord_append_only")


@pytest.mark.django_db(transaction=True)
def test_records_are_chained_at_commit_and_the_checkpoint_signs_the_head_v2(signed_audit, key):
    previous = audit.GENESIS
    for record in signed_audit:
        body = audit.body_digest(at=record.at, kind=record.kind, outcome=record.outcome, username=record.username,
                                 user_id=record.user_id, address=record.address, detail=record.detail)
        assert record.body_hash == body and record.prev_hash == previous
        assert record.hash == audit.link_digest(prev_hash=previous, seq=record.seq, body_hash=body)
        previous = record.hash
    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.audit_seq, checkpoint.audit_hash) == (4, previous)
    point = signing.checkpoint_parse((key.parent / "checkpoints.jsonl").read_text().splitlines()[-1])
    public = signing.key_load(key).public_key()
    text = (f"geodispatch-checkpoint:v2:{checkpoint.seq}:{checkpoint.hash}:4:{previous}:{point['signed_at']}:"
            f"{signing.key_id(public)}")
    public.verify(base64.b64decode(point["signature"]), text.encode())
    assert verify() == "OK: 4 security records, chain intact; 1 signed checkpoints, the last at audit seq 4"
    assert call_command("verify_events", stdout=StringIO()) is None  # the event log's check takes v2 too


@pytest.mark.django_db(transaction=True)
def test_update_and_delete_are_refused_by_the_trigger(signed_audit):
    for sql in ("UPDATE dispatch_securityrecord SET outcome = 'success' WHERE seq = 1",
                "DELETE FROM dispatch_securityrecord WHERE seq = 1"):
        with pytest.raises(DatabaseError, match="the security audit is append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert SecurityRecord.objects.get(seq=1).outcome == "failure"


@pytest.mark.django_db(transaction=True)
def test_an_edited_record_is_caught(signed_audit):
    as_owner("UPDATE dispatch_securityrecord SET username = 'someone-else' WHERE seq = 2")
    assert broken() == "BROKEN at audit seq 2 (login.failed): its content does not match its hash (edited after it was written)"


@pytest.mark.django_db(transaction=True)
def test_a_deleted_record_is_caught_in_the_middle_and_at_the_signed_tail(signed_audit):
    as_owner("DELETE FROM dispatch_securityrecord WHERE seq = 2")
    assert broken() == "BROKEN at audit seq 3 (token.issued): sequence gap: record 2 is missing (deleted)"
    as_owner("DELETE FROM dispatch_securityrecord WHERE seq >= 2")
    checkpoint = Checkpoint.objects.get()
    assert broken() == (
        f"BROKEN at audit seq 2 (deleted): the audit ends at seq 1, but seq 4 was signed at "
        f"{signing.iso(checkpoint.signed_at)} (key {checkpoint.key_id}): records 2..4 were deleted")


@pytest.mark.django_db(transaction=True)
def test_an_edit_rehashed_end_to_end_is_caught_by_the_signature(signed_audit):
    as_owner("UPDATE dispatch_securityrecord SET address = '10.9.9.9' WHERE seq = 1")
    previous = audit.GENESIS
    for record in SecurityRecord.objects.order_by("seq"):
        body = audit.body_digest(at=record.at, kind=record.kind, outcome=record.outcome, username=record.username,
                                 user_id=record.user_id, address=record.address, detail=record.detail)
        chained = audit.link_digest(prev_hash=previous, seq=record.seq, body_hash=body)
        as_owner("UPDATE dispatch_securityrecord SET body_hash = %s, prev_hash = %s, hash = %s WHERE id = %s",
                 [body, previous, chained, record.pk])
        previous = chained
    assert "BROKEN at audit seq 4 (access.denied): its hash differs from the checkpoint signed at" in broken()


@pytest.mark.django_db(transaction=True)
def test_a_v1_checkpoint_still_verifies_beside_v2_ones(cast, key):
    incident_report(actor=cast.dispatcher, category="flood", severity=2, lon=99.95, lat=24.6, title="河水漫堤")
    from dispatch.models import EventHead

    head = EventHead.objects.get(pk=1)
    now = timezone.now()
    point = signing.checkpoint_sign(signing.key_load(key), seq=head.seq, hash=head.last_hash, signed_at=now)
    assert "audit_seq" not in point
    assert signing.canonical(**{k: point[k] for k in signing.SIGNED}).startswith(b"geodispatch-checkpoint:v1:")
    Checkpoint.objects.create(**{**point, "signed_at": now})  # as a version before the audit signed it
    from dispatch.services import checkpoints_copy

    checkpoints_copy()
    line = (key.parent / "checkpoints.jsonl").read_text()
    assert "audit_seq" not in line
    assert "1 signed checkpoints" in (out := StringIO(), call_command("verify_events", stdout=out), out.getvalue())[2]
    assert verify() == "OK: 0 security records, chain intact; no signed checkpoint yet"


@pytest.mark.django_db(transaction=True)
def test_export_writes_the_records_as_json_lines(signed_audit, tmp_path):
    out = tmp_path / "audit.jsonl"
    call_command("export_audit", "--out", str(out), stderr=StringIO())
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["seq"], r["kind"], r["username"], r["address"]) for r in lines] == [
        (1, "login.failed", "t-leader", "192.0.2.30"), (2, "login.failed", "t-water", "192.0.2.31"),
        (3, "token.issued", "t-leader", "192.0.2.32"), (4, "access.denied", "t-leader", "127.0.0.1")]
    assert lines[3]["hash"] == signed_audit[3].hash
    call_command("export_audit", "--since", (timezone.localdate() + timedelta(days=1)).isoformat(), "--out", str(out),
                 stderr=StringIO())
    assert out.read_text() == ""


# ---- the runtime role (docs/OPERATIONS.md, "Database roles") -----------------------------------

def append_record(conn, username):
    at = conn.execute("SELECT now()").fetchone()[0]
    digest = audit.body_digest(at=at, kind="login.failed", outcome="failure", username=username, user_id=None,
                               address="192.0.2.40", detail={})
    conn.execute(audit.INSERT, [at, "login.failed", "failure", username, None, "192.0.2.40", "{}", digest])


@pytest.mark.django_db(transaction=True)
def test_the_runtime_role_appends_records_numbered_at_commit_and_can_change_none(roles):  # noqa: F811 (a fixture)
    with connect(roles.runtime_url) as conn:
        with conn.transaction():
            append_record(conn, "first")
            append_record(conn, "second")
        for statement in ("UPDATE dispatch_securityrecord SET username = 'x'", "DELETE FROM dispatch_securityrecord",
                          "TRUNCATE dispatch_securityrecord",
                          "ALTER TABLE dispatch_securityrecord DISABLE TRIGGER dispatch_securityrecord_append_only",
                          "ALTER FUNCTION dispatch_securityrecord_sequence() SECURITY INVOKER"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert [(r.seq, r.username) for r in SecurityRecord.objects.order_by("seq")] == [(1, "first"), (2, "second")]
    assert verify() == "OK: 2 security records, chain intact; no signed checkpoint yet"


@pytest.mark.django_db(transaction=True)
def test_records_without_new_events_are_signed_by_a_checkpoint_of_their_own(seeded, key):
    start = timezone.now()
    token_login("nobody", "x", REMOTE_ADDR="192.0.2.50")  # a quiet night: failed logins, no event
    first = checkpoint_sign_due(now=start)
    assert (first.seq, first.audit_seq) == (0, 1)  # the first comes at once
    token_login("nobody", "y", REMOTE_ADDR="192.0.2.51")
    assert checkpoint_sign_due(now=start + timedelta(seconds=59)) is None  # then by the interval
    second = checkpoint_sign_due(now=start + timedelta(seconds=61))
    assert (second.seq, second.audit_seq) == (0, 2)
    assert checkpoint_sign_due(now=start + timedelta(seconds=600)) is None  # nothing new
    lines = [signing.checkpoint_parse(line) for line in (key.parent / "checkpoints.jsonl").read_text().splitlines()]
    assert [(p["seq"], p["audit_seq"]) for p in lines] == [(0, 1), (0, 2)]
    assert verify() == "OK: 2 security records, chain intact; 2 signed checkpoints, the last at audit seq 2"
    out = StringIO()
    call_command("verify_events", stdout=out)
    assert out.getvalue().strip() == "OK: 0 events, chain intact; 2 signed checkpoints, the last at seq 0"
    as_owner("DELETE FROM dispatch_securityrecord WHERE seq = 2")
    assert "BROKEN at audit seq 2 (deleted): the audit ends at seq 1, but seq 2 was signed at" in broken()


@pytest.mark.django_db(transaction=True)
def test_a_refused_stream_is_recorded_with_its_address(cast, settings):
    from asgiref.sync import async_to_sync

    from tests.test_stream import communicator

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    async def refused():
        ws = communicator(raw_token="not-a-token")
        ws.scope["client"] = ["192.0.2.60", 50000]
        await ws.connect()
        await ws.receive_from()  # the error frame
        code = (await ws.receive_output())["code"]
        await ws.disconnect()
        return code

    assert async_to_sync(refused)() == 4401
    assert [(r.kind, r.outcome, r.address) for r in SecurityRecord.objects.order_by("seq")] == [
        ("login.failed", "failure", "192.0.2.60"), ("stream.refused", "denied", "192.0.2.60")]
    assert SecurityRecord.objects.get(kind="stream.refused").detail["code"] == 4401
