"""Redis is a doorbell: losing it costs latency, never a stream, a report or a receipt (issue #11).

Each live test runs its own redis-server on a unix socket (nothing persisted) and Daphne processes
pointed at it, then kills, restarts or freezes that Redis by the pid it started.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import time

import httpx
import pytest
import redis
import websockets
from django.db import connection

from api.tokens import token_issue
from config.processes import daphne_command, free_port, wait_listening
from dispatch.models import Event, Ticket
from tests.conftest import ROOT
from tests.screens import Screen, dispatcher_token, orm, report, ticket_on
from tests.test_live_stream import database_url_for_tests, report_body

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

OUTAGE_S = 10  # as the tester's outage
STALL_S = 7  # a SIGSTOPped Redis: longer than any timeout the doorbell may use
ANSWER_S = 2  # a report is answered within this, whatever Redis does
LIVE_S = 0.1  # live push: the event reaches the terminal within this of the report's answer
BACK_WITHIN_S = 5  # after Redis returns, live push is back within this
TIMEOUT_S = 15


class RedisServer:
    """A redis-server of this test's own on a unix socket: stop, start empty, freeze, thaw."""

    def __init__(self, folder):
        self.socket = folder / "r.sock"
        self.log = folder / "redis.log"
        self.process = None

    def start(self):
        command = ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        client = redis.Redis(unix_socket_path=str(self.socket))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                return client.ping()
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start; see {self.log}")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def signal(self, number):
        self.process.send_signal(number)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.signal(signal.SIGCONT)
    server.kill()


@pytest.fixture
def daphnes(cast, redis_server, tmp_path):
    """Start a function that starts a Daphne process on this test's Redis; all are stopped at the end."""
    connection.close()  # the processes must see committed data only, as any client would
    env = dict(
        os.environ, DATABASE_URL=database_url_for_tests(), REDIS_URL=f"unix://{redis_server.socket}",
        CHANNEL_LAYER_PREFIX=f"gdoutage{os.getpid()}", PYTHONPATH=str(ROOT),
    )
    started = []

    def start():
        port = free_port()
        log = tmp_path / f"daphne-{port}.log"
        process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        started.append(process)
        wait_listening(port, process, log)
        return port

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def keys(cast):
    return {name: token_issue(user=getattr(cast, name))[1] for name in ("dispatcher", "water_op")}


class Stream:
    """A stream client that reads in the background and stamps each frame with its arrival time."""

    def __init__(self, port, key):
        self.port, self.key, self.frames, self.arrived = port, key, [], asyncio.Event()

    async def open(self):
        url = f"ws://127.0.0.1:{self.port}/ws/v1/stream"
        self.ws = await websockets.connect(url, additional_headers={"Authorization": f"Token {self.key}"})
        self.reader = asyncio.create_task(self.read())
        await self.wait(lambda f: f["type"] == "snapshot")
        return self

    async def read(self):
        try:
            async for raw in self.ws:
                self.frames.append({**json.loads(raw), "arrived": time.monotonic()})
                self.arrived.set()
        except websockets.ConnectionClosed:
            pass  # wait() names the close code
        finally:
            self.arrived.set()

    async def wait(self, predicate, timeout=TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while True:
            found = next((f for f in self.frames if predicate(f)), None)
            if found:
                return found
            assert not self.reader.done(), f"the stream was closed: code {self.ws.close_code}"
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), max(0.01, deadline - time.monotonic()))

    async def ask(self, **frame):
        """Send a frame with a fresh ref; return its answer."""
        ref = f"r{len(self.frames)}-{time.monotonic()}"
        await self.ws.send(json.dumps({**frame, "ref": ref}))
        return await self.wait(lambda f: f.get("ref") == ref)

    async def close(self):
        await self.ws.close()
        await self.reader
        assert self.ws.close_code == 1000, f"the stream was closed with {self.ws.close_code} before the end"


def issued(ticket_id):
    return lambda f: f["type"] == "event" and f["name"] == "ticket.issued" and f["ticket_id"] == ticket_id


async def report_quickly(port, key, title):
    """Report an incident; assert it is answered within ANSWER_S; return (ticket id, answered at)."""
    started = time.monotonic()
    response = await asyncio.to_thread(
        httpx.post, f"http://127.0.0.1:{port}/api/v1/incidents", json=report_body(title),
        headers={"Authorization": f"Token {key}"}, timeout=TIMEOUT_S,
    )
    answered = time.monotonic()
    assert response.status_code == 201, response.text
    assert answered - started < ANSWER_S, f"the report took {answered - started:.2f} s"
    return response.json()["tickets"][0]["id"], answered


async def push_latency(port, key, terminal, title):
    """Return how long after its answer a report's ticket reached the terminal (0 if before)."""
    ticket_id, answered = await report_quickly(port, key, title)
    frame = await terminal.wait(issued(ticket_id))
    return max(0.0, frame["arrived"] - answered)


async def assert_live_push_back(port, key, terminal, since):
    """Assert three pushes in a row under LIVE_S, the first reported within BACK_WITHIN_S of since."""
    samples, streak = [], []  # streak: when each report of the current run of live pushes started
    while len(streak) < 3:
        started = time.monotonic()
        assert started - since < 2 * BACK_WITHIN_S, f"live push not back: latencies {samples}"
        samples.append(round(await push_latency(port, key, terminal, f"恢复 back {len(samples)}"), 3))
        streak = [*streak, started] if samples[-1] < LIVE_S else []
    assert streak[0] - since < BACK_WITHIN_S, f"live push back only after {streak[0] - since:.1f} s: {samples}"
    return samples


async def report_and_deliver(port, key, terminal, title):
    """Report; wait for the ticket on the terminal; send its receipt; return the ticket id."""
    ticket_id, _ = await report_quickly(port, key, title)
    await terminal.wait(issued(ticket_id))
    result = await terminal.ask(type="delivered", ticket=ticket_id)
    assert result["ok"] is True, result
    return ticket_id


def test_redis_stopped_for_ten_seconds_closes_no_stream_and_loses_no_receipt(redis_server, daphnes, keys):
    reports_on, terminals_on = daphnes(), daphnes()  # the doorbell crosses processes through Redis
    during = []

    async def scenario():
        console = await Stream(reports_on, keys["dispatcher"]).open()
        terminal = await Stream(terminals_on, keys["water_op"]).open()
        await assert_live_push_back(reports_on, keys["dispatcher"], terminal, time.monotonic())
        redis_server.kill()
        stopped = time.monotonic()
        while time.monotonic() - stopped < OUTAGE_S:
            during.append(await report_and_deliver(reports_on, keys["dispatcher"], terminal, f"停机 {len(during)}"))
            await asyncio.sleep(0.5)
        for stream in (console, terminal):
            assert (await stream.ask(type="ping"))["type"] == "pong"
            await stream.wait(issued(during[-1]))
        redis_server.start()  # empty: every group membership is gone
        await assert_live_push_back(reports_on, keys["dispatcher"], terminal, time.monotonic())
        await console.close()
        await terminal.close()

    asyncio.run(scenario())
    assert len(during) >= 3
    assert set(Ticket.objects.filter(id__in=during).values_list("status", flat=True)) == {"delivered"}


def test_a_frozen_redis_delays_no_report(redis_server, daphnes, keys):
    port = daphnes()

    async def scenario():
        terminal = await Stream(port, keys["water_op"]).open()
        await assert_live_push_back(port, keys["dispatcher"], terminal, time.monotonic())
        redis_server.signal(signal.SIGSTOP)
        frozen = time.monotonic()
        ticket_id = await report_and_deliver(port, keys["dispatcher"], terminal, "冻结 frozen")
        await asyncio.sleep(max(0.0, STALL_S - (time.monotonic() - frozen)))
        redis_server.signal(signal.SIGCONT)
        await assert_live_push_back(port, keys["dispatcher"], terminal, time.monotonic())
        await terminal.close()
        return ticket_id

    ticket_id = asyncio.run(scenario())
    assert Ticket.objects.get(id=ticket_id).status == "delivered"


# ---- the terminal re-sends receipts after a reconnect --------------------------------------


@pytest.mark.browser
def test_terminal_re_sends_the_receipt_it_lost_when_it_reconnects(servers, browser, cast):  # noqa: F811
    port = servers.start()
    base = f"http://127.0.0.1:{port}"
    pages, dropped = [], []

    def route(page_side):
        server_side = page_side.connect_to_server()
        pages.append((page_side, server_side))

        def to_server(message):
            frame = json.loads(message)
            if frame["type"] == "delivered" and not dropped:
                dropped.append(frame["ticket"])  # lost, as on a socket that dies right after sending
            else:
                server_side.send(message)

        page_side.on_message(to_server)

    screen = Screen(browser, base)
    screen.page.route_web_socket(re.compile(r"/ws/v1/stream"), route)
    t = screen.login(cast.water_op.username, "pw-" + cast.water_op.username, "/terminal/").online().page
    key = dispatcher_token(cast)
    lost = report(port, key, "回执丢失 receipt lost")["tickets"][0]["id"]
    kept = report(port, key, "回执送达 receipt kept")["tickets"][0]["id"]
    ticket_on(t, kept, "delivered")
    ticket_on(t, lost, "issued")
    assert dropped == [lost] and orm(lambda: Ticket.objects.get(id=lost).status) == "issued"

    page_side, server_side = pages[-1]
    server_side.close()
    page_side.close()
    ticket_on(t, lost, "delivered")
    assert len(pages) == 2
    assert orm(lambda: Ticket.objects.get(id=lost).status) == "delivered"
    receipts = orm(lambda: list(Event.objects.filter(name="ticket.delivered").values_list("ticket_id", flat=True)))
    assert sorted(receipts) == sorted([lost, kept]), "one receipt event per ticket, none for a repeat"
    assert screen.errors == []
