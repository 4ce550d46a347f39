"""The stream in process: WebsocketCommunicator through the real ASGI router, real Redis layer."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from api.tokens import token_issue
from config.asgi import application
from dispatch import services
from dispatch.models import Event, Terminal
from dispatch.selectors import subcenter_terminal_health
from dispatch.services import terminal_connect, terminals_sweep

FENGQING = (99.95, 24.6)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    """One process here; the live tests cover Redis across real Daphne processes."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


TOKENS = {}  # user id → token key, made before the async part of each test runs


@pytest.fixture(autouse=True)
def tokens(cast):
    for user in (cast.dispatcher, cast.leader, cast.water_op, cast.water_op2, cast.health_op):
        TOKENS[user.pk] = token_issue(user=user)[1]


def token(user):
    return TOKENS[user.pk]


def communicator(user=None, *, since=None, origin=None, raw_token=None):
    path = "/ws/v1/stream" + (f"?since={since}" if since is not None else "")
    headers = [(b"host", b"testserver")]
    if user is not None or raw_token:
        headers.append((b"authorization", f"Token {raw_token or token(user)}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def frames_until(ws, predicate, limit=50):
    seen = []
    for _ in range(limit):
        frame = json.loads(await ws.receive_from(timeout=5))
        seen.append(frame)
        if predicate(frame):
            return seen
    raise AssertionError(f"no matching frame in {seen}")


async def opened(ws):
    """Connect and return (hello, snapshot) after the handshake frames."""
    connected, _ = await ws.connect()
    assert connected
    hello = json.loads(await ws.receive_from())
    snapshot = json.loads(await ws.receive_from())
    return hello, snapshot


def report(actor, severity=4):
    incident = services.incident_report(
        actor=actor, category="flood", severity=severity, lon=FENGQING[0], lat=FENGQING[1], title="内涝"
    ).incident
    return incident


@pytest.mark.parametrize("case,expected_code", [("no credentials", 4401), ("bad token", 4401), ("cross origin", 4403)])
def test_refusals_come_with_a_close_code_and_a_reason(cast, case, expected_code):
    async def scenario():
        ws = {
            "no credentials": lambda: communicator(),
            "bad token": lambda: communicator(raw_token="not-a-token"),
            "cross origin": lambda: communicator(cast.water_op, origin="http://evil.example"),
        }[case]()
        await ws.connect()
        error = json.loads(await ws.receive_from())
        closed = await ws.receive_output()
        assert error["type"] == "error" and error["code"] == expected_code and error["message"]
        assert closed == {"type": "websocket.close", "code": expected_code, "reason": error["message"]}
        await ws.disconnect()

    async_to_sync(scenario)()


def test_user_without_a_role_is_refused(cast, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    TOKENS[nobody.pk] = token_issue(user=nobody)[1]

    async def scenario():
        ws = communicator(nobody)
        await ws.connect()
        assert json.loads(await ws.receive_from())["code"] == 4403

    async_to_sync(scenario)()


def test_same_origin_browser_connection_is_allowed(cast):
    async def scenario():
        ws = communicator(cast.dispatcher, origin="http://testserver")
        hello, _ = await opened(ws)
        assert hello["user"]["role"] == "dispatcher"
        await ws.disconnect()

    async_to_sync(scenario)()


def test_hello_snapshot_replay_then_live_in_seq_order(cast):
    first = report(cast.dispatcher)

    async def scenario():
        ws = communicator(cast.water_op, since=0)
        hello, snapshot = await opened(ws)
        assert hello["protocol"] == 1 and hello["user"]["subcenter_id"] == cast.water_op.operator_post.subcenter_id
        assert snapshot["seq"] == hello["seq"]
        assert [t["incident_id"] for t in snapshot["tickets"]] == [first.id]
        replay = await frames_until(ws, lambda f: f.get("name") == "ticket.issued")
        second = await sync_to_async(report)(cast.dispatcher)
        live = await frames_until(ws, lambda f: f.get("name") == "ticket.issued")
        seqs = [f["seq"] for f in replay + live]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
        assert live[-1]["incident_id"] == second.id
        await ws.disconnect()

    async_to_sync(scenario)()


def test_operator_sees_only_their_subcenters_tickets(cast):
    async def scenario():
        ws = communicator(cast.health_op)
        await opened(ws)
        await sync_to_async(report)(cast.dispatcher, severity=4)  # water only
        await sync_to_async(report)(cast.dispatcher, severity=2)  # water, health, …
        frames = await frames_until(ws, lambda f: f.get("name") == "ticket.issued")
        issued = [f for f in frames if f.get("name") == "ticket.issued"]
        assert [f["payload"]["ticket"]["subcenter"]["code"] for f in issued] == ["530921-health"]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_delivered_and_accept_over_the_socket_are_idempotent(cast):
    incident = report(cast.dispatcher)
    ticket = incident.tickets.get()

    async def scenario():
        ws = communicator(cast.water_op)
        await opened(ws)
        results = []
        for frame in [("delivered", "a"), ("delivered", "b"), ("accept", "c"), ("accept", "d")]:
            await ws.send_json_to({"type": frame[0], "ticket": ticket.id, "ref": frame[1]})
            results += [f for f in await frames_until(ws, lambda f: f["type"] == "result") if f["type"] == "result"]
        assert [(r["ref"], r["ok"], r["changed"]) for r in results] == [
            ("a", True, True), ("b", True, False), ("c", True, True), ("d", True, False)
        ]
        await ws.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("payload,field", [
    ("not json", "frame"),
    (json.dumps({"type": "dance"}), "type"),
    (json.dumps({"type": "accept"}), "ticket"),
    (json.dumps({"type": "accept", "ticket": "7"}), "ticket"),
    (json.dumps({"type": "accept", "ticket": 7, "extra": 1}), "extra"),
    (json.dumps({"type": "ping", "ref": "x" * 20_000}), "frame"),
])
def test_bad_frames_get_an_error_naming_the_problem_and_the_stream_stays_usable(cast, payload, field):
    async def scenario():
        ws = communicator(cast.water_op)
        await opened(ws)
        await ws.send_to(text_data=payload)
        error = json.loads(await ws.receive_from())
        assert error["type"] == "error" and error["field"] == field
        await ws.send_json_to({"type": "ping", "ref": "still-there"})
        assert json.loads(await ws.receive_from()) == {"type": "pong", "ref": "still-there"}
        await ws.disconnect()

    async_to_sync(scenario)()


def test_actions_on_another_subcenters_ticket_or_in_the_wrong_state_get_a_result_error(cast):
    incident = report(cast.dispatcher)
    ticket = incident.tickets.get()

    async def scenario():
        health = communicator(cast.health_op)
        await opened(health)
        await health.send_json_to({"type": "accept", "ticket": ticket.id, "ref": "x"})
        result = json.loads(await health.receive_from())
        # A stream without Accept-Language answers in the command center's language (zh-hans).
        assert result == {"type": "result", "ref": "x", "ok": False, "errors": {"ticket": [f"没有处警单 {ticket.id}"]}}
        water = communicator(cast.water_op)
        await opened(water)
        await water.send_json_to({"type": "accept", "ticket": ticket.id, "ref": "y"})
        result = json.loads(await water.receive_from())
        assert result["ok"] is False and result["status"] == "issued"
        await health.disconnect()
        await water.disconnect()

    async_to_sync(scenario)()


def test_a_client_that_keeps_abusing_the_stream_is_closed(cast):
    async def scenario():
        ws = communicator(cast.water_op)
        await opened(ws)
        for _ in range(21):
            await ws.send_to(text_data="garbage")
            await ws.receive_from()
        final = json.loads(await ws.receive_from())
        assert final["code"] == 4408
        assert (await ws.receive_output())["code"] == 4408

    async_to_sync(scenario)()


def test_since_too_far_behind_gets_resync_required_and_a_fresh_snapshot(cast, settings):
    settings.REPLAY_LIMIT = 3
    for _ in range(2):
        report(cast.dispatcher)

    async def scenario():
        ws = communicator(cast.dispatcher, since=0)
        await ws.connect()
        kinds = [json.loads(await ws.receive_from())["type"] for _ in range(3)]
        assert kinds == ["hello", "resync_required", "snapshot"]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_heartbeats_record_terminal_health_and_presence_events_reach_dispatchers(cast):
    async def scenario():
        console = communicator(cast.dispatcher)
        await opened(console)
        terminal = communicator(cast.water_op)
        await opened(terminal)
        online = await frames_until(console, lambda f: f.get("name") == "terminal.presence")
        assert online[-1]["payload"]["online"] == 1 and online[-1]["payload"]["audio_armed"] is False
        await terminal.send_json_to({"type": "heartbeat", "audio_armed": True, "page_visible": True})
        armed = await frames_until(console, lambda f: f.get("name") == "terminal.presence")
        assert armed[-1]["payload"]["audio_armed"] is True
        assert await sync_to_async(Terminal.objects.filter(audio_armed=True).count)() == 1
        await terminal.disconnect()
        gone = await frames_until(console, lambda f: f.get("name") == "terminal.presence")
        assert gone[-1]["payload"]["online"] == 0
        await console.disconnect()

    async_to_sync(scenario)()


def test_quiet_heartbeats_are_recorded_in_the_next_batch(cast):
    async def scenario():
        terminal = communicator(cast.water_op)
        await opened(terminal)
        row = await sync_to_async(Terminal.objects.get)(user=cast.water_op)
        assert row.page_visible is True
        await terminal.send_json_to({"type": "heartbeat", "audio_armed": False, "page_visible": False, "ref": "q"})
        assert json.loads(await terminal.receive_from())["type"] == "pong"
        for _ in range(30):  # the hub writes quiet heartbeats once a second
            await asyncio.sleep(0.1)
            row = await sync_to_async(Terminal.objects.get)(pk=row.pk)
            if not row.page_visible:
                break
        assert row.page_visible is False
        await terminal.disconnect()

    async_to_sync(scenario)()


def test_worker_sweep_forgets_silent_terminals_and_tells_the_console(cast, settings):
    water = cast.water_op.operator_post.subcenter_id
    terminal_connect(channel_name="killed!1", user=cast.water_op, subcenter_id=water)
    assert subcenter_terminal_health([water])[water]["online"] == 1
    later = timezone.now() + timedelta(seconds=settings.TERMINAL_STALE_S + 1)
    assert terminals_sweep(now=later) == 1
    assert not Terminal.objects.filter(channel_name="killed!1").exists()
    last = Event.objects.filter(name="terminal.presence").order_by("-seq").first()
    assert last.payload["subcenter"]["id"] == water and last.payload["online"] == 0
    assert terminals_sweep(now=later) == 0
