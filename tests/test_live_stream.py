"""Live: real Daphne processes on loopback, real Redis, a real WebSocket client (websockets).

The tests drive the system as another vendor's terminal would: over HTTP and the stream only.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
import websockets
from django.conf import settings
from django.db import connection

from api.parsers import MAX_BODY_BYTES
from api.tokens import token_issue
from config.processes import daphne_command, free_port, stop_process, wait_listening
from geo.models import SubCenter
from tests.conftest import ROOT

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

FENGQING = [99.95, 24.6]
TIMEOUT_S = 10


def database_url_for_tests():
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    where = f"@{db['HOST']}:{db['PORT']}" if db["HOST"] and not db["HOST"].startswith("/") else "@"
    query = f"?host={db['HOST']}" if db["HOST"].startswith("/") else ""
    return f"postgres://{auth}{where}/{db['NAME']}{query}"


class Webhook:
    """A stand-in SMS gateway on 127.0.0.1: the one thing that would leave the machine."""

    def __init__(self):
        self.received = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                owner.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def live_env(cast, webhook):
    """Return the environment of the processes a test starts (they see committed data only)."""
    connection.close()
    return dict(
        os.environ,
        DATABASE_URL=database_url_for_tests(),
        CHANNEL_LAYER_PREFIX=f"gdtest{os.getpid()}",
        NOTIFIER_BACKEND="dispatch.notifiers.WebhookNotifier",
        NOTIFIER_WEBHOOK_URL=webhook.url,
        NOTIFIER_MAX_ATTEMPTS="1",
        PYTHONPATH=str(ROOT),
    )


@pytest.fixture
def worker(live_env, tmp_path):
    """Run the deadline worker, which also sends the notice outbox, as its own process."""
    with open(tmp_path / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_dispatch_worker", "--interval", "0.2"],
            cwd=ROOT, env=live_env, stdout=subprocess.DEVNULL, stderr=log,
        )
    yield process
    stop_process(process)


@pytest.fixture
def daphnes(live_env, tmp_path):
    """Start a function that starts Daphne processes; all are stopped at the end."""
    env = live_env
    started = []

    def start():
        port = free_port()
        log = tmp_path / f"daphne-{port}.log"
        process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        started.append(process)
        wait_listening(port, process, log)
        return port, process

    yield start
    for process in started:
        if process.poll() is None:
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


class Client:
    """A stream client that keeps every frame and remembers the last seq it saw."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.frames, self.last_seq, self.ws = [], 0, None

    async def connect(self, since=None):
        url = f"ws://127.0.0.1:{self.port}/ws/v1/stream" + (f"?since={since}" if since is not None else "")
        self.ws = await websockets.connect(url, additional_headers={"Authorization": f"Token {self.key}"})
        hello = await self.next()
        snapshot = await self.next()
        assert (hello["type"], snapshot["type"]) == ("hello", "snapshot")
        if since is None:
            self.last_seq = snapshot["seq"]
        return hello, snapshot

    async def next(self):
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
        self.frames.append(frame)
        if frame["type"] == "event":
            self.last_seq = max(self.last_seq, frame["seq"])
        return frame

    async def until(self, predicate):
        while True:
            frame = await self.next()
            if predicate(frame):
                return frame

    async def send(self, **frame):
        await self.ws.send(json.dumps(frame))

    def events(self, name):
        return [f for f in self.frames if f["type"] == "event" and f["name"] == name]


def post(port, key, path, body):
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/{path}", json=body, headers={"Authorization": f"Token {key}"}, timeout=TIMEOUT_S
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def report_body(title="河水漫堤 river over its banks"):
    return {"category": "flood", "severity": 4, "location": {"type": "Point", "coordinates": FENGQING}, "title": title}


def is_event(name, ticket_id=None):
    return lambda f: f["type"] == "event" and f["name"] == name and (ticket_id is None or f["ticket_id"] == ticket_id)


def test_incident_over_rest_reaches_the_terminal_and_every_party_sees_the_same_seqs(daphnes, keys):
    port, _ = daphnes()

    async def scenario():
        terminal, console = Client(port, keys["water_op"]), Client(port, keys["dispatcher"])
        await terminal.connect()
        await console.connect()
        created = await asyncio.to_thread(post, port, keys["dispatcher"], "incidents", report_body())
        ticket_id = created["tickets"][0]["id"]
        issued = await terminal.until(is_event("ticket.issued", ticket_id))
        await terminal.send(type="delivered", ticket=ticket_id, ref="r1")
        assert (await terminal.until(lambda f: f["type"] == "result"))["ok"] is True
        await terminal.send(type="accept", ticket=ticket_id, ref="r2")
        assert (await terminal.until(lambda f: f["type"] == "result"))["status"] == "accepted"
        await console.until(is_event("ticket.accepted", ticket_id))
        await asyncio.to_thread(post, port, keys["dispatcher"], f"tickets/{ticket_id}/confirm", {})
        await terminal.until(is_event("ticket.confirmed", ticket_id))
        await console.until(is_event("ticket.confirmed", ticket_id))
        names = ["ticket.issued", "ticket.delivered", "ticket.accepted", "ticket.confirmed"]
        terminal_seqs = [terminal.events(n)[-1]["seq"] for n in names]
        console_seqs = [console.events(n)[-1]["seq"] for n in names]
        assert terminal_seqs == console_seqs == sorted(terminal_seqs)
        assert issued["payload"]["incident"]["title"] == "河水漫堤 river over its banks"
        await terminal.ws.close()
        await console.ws.close()

    asyncio.run(scenario())


def test_terminal_that_was_away_gets_the_five_tickets_it_missed_once_each_in_order(daphnes, keys):
    port, _ = daphnes()

    async def scenario():
        terminal = Client(port, keys["water_op"])
        await terminal.connect()
        await terminal.ws.close()
        away_since = terminal.last_seq
        made = []
        for n in range(5):
            created = await asyncio.to_thread(post, port, keys["dispatcher"], "incidents", report_body(f"第{n}起"))
            made.append(created["tickets"][0]["id"])
        back = Client(port, keys["water_op"])
        await back.connect(since=away_since)
        while len(back.events("ticket.issued")) < 5:
            await back.next()
        issued = back.events("ticket.issued")
        assert [f["ticket_id"] for f in issued] == made
        seqs = [f["seq"] for f in back.frames if f["type"] == "event"]
        assert seqs == sorted(set(seqs)), "in order, none twice"
        await back.ws.close()

    asyncio.run(scenario())


def test_two_processes_share_events_and_a_killed_process_loses_nothing(daphnes, keys):
    port_a, _ = daphnes()
    port_b, process_b = daphnes()

    async def scenario():
        console = Client(port_a, keys["dispatcher"])
        await console.connect()
        terminal = Client(port_b, keys["water_op"])
        await terminal.connect()
        made = []
        for n in range(6):
            if n == 3:
                process_b.send_signal(signal.SIGKILL)
                process_b.wait(timeout=10)
            created = await asyncio.to_thread(post, port_a, keys["dispatcher"], "incidents", report_body(f"第{n}起"))
            made.append(created["tickets"][0]["id"])
            if n < 3:  # reported on A, rung through Redis, delivered by B
                await terminal.until(is_event("ticket.issued", made[-1]))
        with pytest.raises((websockets.ConnectionClosed, asyncio.TimeoutError)):
            while True:
                await terminal.next()
        moved = Client(port_a, keys["water_op"])
        await moved.connect(since=terminal.last_seq)
        seen = {f["ticket_id"] for f in terminal.events("ticket.issued")}
        while len(seen | {f["ticket_id"] for f in moved.events("ticket.issued")}) < 6:
            await moved.next()
        everything = terminal.events("ticket.issued") + moved.events("ticket.issued")
        assert sorted(f["ticket_id"] for f in everything) == sorted(made), "every ticket exactly once"
        for n in range(6):
            await console.until(is_event("ticket.issued", made[n])) if not any(
                f["ticket_id"] == made[n] for f in console.events("ticket.issued")
            ) else None
        await moved.ws.close()
        await console.ws.close()

    asyncio.run(scenario())


def test_subcenter_with_no_terminal_online_has_its_duty_phone_paged_at_once(daphnes, worker, keys, webhook):
    SubCenter.objects.filter(code="530921-water").update(duty_phone="0883-1234567")
    port, _ = daphnes()
    started = time.monotonic()
    created = post(port, keys["dispatcher"], "incidents", report_body())
    deadline = started + 5
    while not webhook.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert webhook.received, "the notifier was not called"
    notice = webhook.received[0]
    assert (notice["to"], notice["level"], notice["ticket"]) == ("0883-1234567", 3, created["tickets"][0]["id"])
    assert time.monotonic() - started < 5, "paged at once, not after the delivery deadline"


def test_a_report_sent_in_chunks_is_read_whole_and_a_chunked_body_over_the_limit_is_refused(daphnes, keys):
    port, _ = daphnes()
    url, headers = f"http://127.0.0.1:{port}/api/v1/incidents", {
        "Authorization": f"Token {keys['dispatcher']}", "Content-Type": "application/json",
    }
    raw = json.dumps(report_body("分块发送 sent in chunks")).encode()
    chunks = (raw[i:i + 16] for i in range(0, len(raw), 16))  # an iterator: httpx sends Transfer-Encoding: chunked
    response = httpx.post(url, content=chunks, headers=headers, timeout=TIMEOUT_S)
    assert response.status_code == 201, response.text
    assert response.json()["incident"]["title"] == "分块发送 sent in chunks"
    big = json.dumps(report_body("x" * (MAX_BODY_BYTES + 10))).encode()
    response = httpx.post(url, content=iter([big[:1000], big[1000:]]), headers=headers, timeout=TIMEOUT_S)
    assert response.status_code == 413 and "body" in response.json()["errors"]
