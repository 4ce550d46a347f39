"""A whole second system for the fault tests and the fault bench: `./geodispatch run` in its own data folder.

It runs exactly as a user runs it (supervisord, two Daphne processes on one port, the worker,
its own embedded PostgreSQL and Redis, all supervised), so a test may stop, pause or kill any of
its processes without touching the test run's own services. The clients here behave as the
protocol asks a client to (docs/PROTOCOL.md): resume with `since`, ignore a seq already applied,
send `delivered` for every ticket on screen not yet delivered after each (re)connect and again
when a receipt was refused, retry a report with its Idempotency-Key until it is stored.
"""

import asyncio
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import websockets

from config.processes import free_port
from config.supervision import Supervisor

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per report drowns what matters
FENGQING = [99.95, 24.6]
REPORTS = [("flood", 4), ("traffic_accident", 3)]  # water; fire and health — all of 凤庆县
OPERATORS = ("op-530921-water", "op-530921-fire", "op-530921-health")
START_TIMEOUT_S = 240


class System:
    """The second system: its run command, its supervisord and its HTTP address."""

    def __init__(self, home):
        self.home = Path(home)
        self.data = self.home / "data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.run = None

    def env(self):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER_PREFIX")}
        env.update(GEODISPATCH_DATA=str(self.data), PORT=str(self.port), WEB_PROCESSES="2", WORKER_PROCESSES="1")
        return env

    def start(self):
        self.log = open(self.home / "run.log", "wb")
        self.run = subprocess.Popen([str(ROOT / "geodispatch"), "run"], env=self.env(), cwd=ROOT, stdout=self.log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.healthy():
            if self.run.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the run command did not come up; see {self.home / 'run.log'}")
            time.sleep(0.5)
        self.logins = {row["username"]: row["password"] for row in json.loads((self.data / "demo_logins.json").read_text())}

    def healthy(self):
        try:
            return httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self):
        """Stop the run command as Ctrl-C does; return its exit code."""
        if self.run is None or self.run.poll() is not None:
            return self.run and self.run.returncode
        self.run.send_signal(signal.SIGINT)
        try:
            return self.run.wait(timeout=30)
        finally:
            self.log.close()
            self.forget_cluster()

    def forget_cluster(self):
        """Remove a cluster kept outside the folder (see config.stack.cluster_home): a later system must not find it."""
        link = self.data / "pg"
        if link.is_symlink():
            shutil.rmtree(link.resolve(), ignore_errors=True)

    # ---- its processes -------------------------------------------------------------------

    def supervisor(self):
        return Supervisor(self.data)

    def processes(self):
        return self.supervisor().processes()

    def pid(self, name):
        return self.processes()[name]["pid"]

    def daphnes(self):
        return sorted(name for name in self.processes() if name.startswith("daphne:"))

    def control(self):
        return self.supervisor().rpc

    def database_url(self):
        return f"postgres://postgres@/geodispatch?host={(self.data / 'pg').resolve() / 'run'}"

    def tokens(self, usernames):
        """Return an API token per user, issued inside the system (the login endpoint is rate-limited)."""
        script = (
            "import json, sys\n"
            "from django.contrib.auth import get_user_model\n"
            "from api.tokens import token_issue\n"
            "users = get_user_model().objects.filter(username__in=sys.argv[1:])\n"
            "print(json.dumps({u.username: token_issue(user=u)[1] for u in users}))\n"
        )
        done = self.manage("shell", "-c", script.replace("sys.argv[1:]", repr(list(usernames))))
        if done.returncode:
            raise RuntimeError(done.stderr)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def manage(self, *args):
        env = dict(self.env(), DATABASE_URL=self.database_url(), PYTHONPATH=str(ROOT))
        return subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    def respawned(self, name, old_pid, timeout):
        """Return the seconds until `name` runs again under a new pid, or None after timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            info = self.processes().get(name, {})
            if info.get("pid") not in (0, None, old_pid) and info.get("statename") in ("STARTING", "RUNNING"):
                return time.monotonic() - started
            time.sleep(0.05)
        return None

    def postgres_pids(self):
        """Return the postmaster's pid and its children's (the backends), which a pause must stop too."""
        postmaster = self.pid("postgres")
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        return [postmaster, *map(int, children)]


# ---- clients -------------------------------------------------------------------------------


async def token(client, base, username, password):
    response = await client.post(f"{base}/api/v1/auth/token", json={"username": username, "password": password})
    response.raise_for_status()
    return response.json()["token"]


class Terminal:
    """A sub-center terminal as the protocol asks it to behave; it counts the tickets it was issued."""

    def __init__(self, base, key, *, receipts=True):
        self.url = base.replace("http", "ws") + "/ws/v1/stream"
        self.key = key
        self.sends_receipts = receipts  # one screen per sub-center answers; others only show
        self.arrived = {}  # ticket id → monotonic time its ticket.issued arrived
        self.last_seq = None
        self.shown = {}  # ticket id → status, as the terminal shows it
        self.issued = {}  # ticket id → how many ticket.issued frames were applied (must end at 1)
        self.connects = 0
        self.ready = False  # its first snapshot has arrived
        self.errors = []  # what broke a session other than the network (a harness bug shows here)
        self.drops = []  # when and why the network side ended a session
        self.socket = None

    async def run(self):
        backoff = 0.1
        while True:
            try:
                await self.session()
                backoff = 0.1
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as error:
                self.drops.append(f"{time.strftime('%H:%M:%S')} {error!r}"[:200])
            except Exception as error:
                self.errors.append(repr(error))
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 1.0)

    async def session(self):
        since = "" if self.last_seq is None else f"&since={self.last_seq}"
        # max_size: a dispatcher's snapshot of a busy night is bigger than the library's 1 MiB default.
        async with websockets.connect(f"{self.url}?token={self.key}{since}", open_timeout=5,
                                      max_size=16 * 1024 * 1024) as socket:
            self.socket, self.connects = socket, self.connects + 1
            beat = asyncio.create_task(self.heartbeats(socket))
            try:
                async for raw in socket:
                    await self.take(json.loads(raw))
            finally:
                beat.cancel()
                self.socket = None

    async def heartbeats(self, socket):
        while True:
            await socket.send(json.dumps({"type": "heartbeat", "audio_armed": True, "page_visible": True}))
            await asyncio.sleep(5)

    async def take(self, frame):
        kind = frame["type"]
        if kind == "snapshot":
            if self.last_seq is None:  # a first snapshot (after a resync too): what it holds reached the screen
                self.last_seq = frame["seq"]
                for ticket in frame["tickets"]:
                    self.issued.setdefault(ticket["id"], 1)
                    self.arrived.setdefault(ticket["id"], time.monotonic())
            self.shown.update({t["id"]: t["status"] for t in frame["tickets"]})
            self.ready = True
            await self.receipts()
        elif kind == "resync_required":
            self.last_seq = None
        elif kind == "event" and (self.last_seq is None or frame["seq"] > self.last_seq):
            self.last_seq = frame["seq"]
            ticket = frame["payload"].get("ticket")
            if ticket:
                self.shown[ticket["id"]] = ticket["status"]
            if frame["name"] == "ticket.issued":
                self.issued[ticket["id"]] = self.issued.get(ticket["id"], 0) + 1
                self.arrived.setdefault(ticket["id"], time.monotonic())
                await self.receipts()
        elif kind == "result" and not frame["ok"]:
            await asyncio.sleep(0.5)
            await self.receipts()  # a receipt refused (database away): send it again
        elif kind == "degraded" and frame.get("database", True):
            await self.receipts()

    async def receipts(self):
        """Send `delivered` for every ticket on screen that the server has not marked delivered."""
        for ticket_id, status in list(self.shown.items()):
            if status == "issued" and self.socket is not None and self.sends_receipts:
                await self.socket.send(json.dumps({"type": "delivered", "ticket": ticket_id, "ref": f"d{ticket_id}"}))


class Reporter:
    """A dispatcher's console: one report every interval, each retried with its key until stored."""

    def __init__(self, client, base, key, prefix, *, places=None):
        self.client, self.base, self.prefix = client, base, prefix
        self.places = places or [FENGQING]
        self.sent = {}  # Idempotency-Key → monotonic time of the attempt that was stored
        self.failed_at = []  # monotonic end times of attempts that were not stored
        self.headers = {"Authorization": f"Token {key}"}
        self.stored = {}  # Idempotency-Key → the answer's body
        self.failures = []  # (key, what went wrong, content type) for attempts that were not stored
        self.slowest = 0.0  # seconds of the slowest attempt, answered or not

    async def report(self, i, give_up_after=90):
        key = f"{self.prefix}-{i}"
        category, severity = REPORTS[i % len(REPORTS)]
        body = {"category": category, "severity": severity, "title": f"{self.prefix} {i}",
                "location": {"type": "Point", "coordinates": self.places[i % len(self.places)]}}
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = await self.client.post(f"{self.base}/api/v1/incidents", json=body, timeout=10,
                                                  headers={**self.headers, "Idempotency-Key": key})
                if response.status_code in (200, 201):
                    self.stored[key], self.sent[key] = response.json(), started
                    return
                self.failures.append((key, response.status_code, response.headers.get("content-type")))
            except httpx.HTTPError as error:
                self.failures.append((key, type(error).__name__, None))
            finally:
                self.slowest = max(self.slowest, time.monotonic() - started)
            self.failed_at.append(time.monotonic())
            await asyncio.sleep(0.5)

    async def run(self, count, interval):
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(self.report(i)))
            await asyncio.sleep(interval)
        await asyncio.gather(*tasks)


# ---- faults ----------------------------------------------------------------------------------

FAULTS = ("daphne_kill", "worker_kill", "both_daphnes_kill", "redis_restart", "redis_pause", "postgres_restart",
          "postgres_pause")
OUTAGE_S = {"redis_restart": 10, "redis_pause": 10, "postgres_restart": 5, "postgres_pause": 10}
RESPAWN_S = 5.0


async def strike(system, fault):
    """Inflict one fault; return once it is over (the kill done, or the service back).

    For a kill, return per process the seconds until it ran again (None: not within RESPAWN_S).
    """
    if fault.endswith("_kill"):
        names = {"daphne_kill": system.daphnes()[:1], "both_daphnes_kill": system.daphnes(),
                 "worker_kill": ["worker:worker_00"]}[fault]
        return await kill(system, names)
    service, how = fault.split("_")
    if how == "restart":
        await stop_for(system, service, OUTAGE_S[fault])
    else:
        await pause(system.postgres_pids() if service == "postgres" else [system.pid(service)], OUTAGE_S[fault])
    return None


async def kill(system, names):
    old = {name: system.pid(name) for name in names}
    for pid in old.values():
        os.kill(pid, signal.SIGKILL)
    # Off the event loop: the clients keep working while this waits.
    return await asyncio.to_thread(lambda: {name: system.respawned(name, pid, RESPAWN_S) for name, pid in old.items()})


async def pause(pids, seconds):
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    await asyncio.sleep(seconds)
    for pid in pids:
        os.kill(pid, signal.SIGCONT)


async def stop_for(system, name, seconds):
    """Stop a supervised service (PostgreSQL: SIGINT, a fast shutdown), wait, start it again."""
    await asyncio.to_thread(system.control().stopProcess, name, True)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(system.control().startProcess, name, True)
