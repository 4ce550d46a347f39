"""Live: PostgreSQL goes away (stopped, or frozen with SIGSTOP) under a running Daphne.

The module starts its own PostgreSQL cluster (so stopping it disturbs no other test), one
Daphne and one deadline worker against it and the session's Redis. Only the processes
started here are ever stopped, frozen or killed.
"""

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from config import stack
from config.processes import daphne_command, free_port, wait_listening
from tests.conftest import ROOT
from tests.test_live_stream import Client, is_event, report_body

pytestmark = pytest.mark.live

OUTAGE_ANSWER_S = 2.5  # the issue: an answer within ~2 s, plus room for a busy machine
HEALTH_ANSWER_S = 1.0
PASSWORD = "pw-outage-dispatcher"


class Cluster:
    """A private PostgreSQL cluster in a folder the postgres user may enter (pytest's may be 0700)."""

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="gd-pgdown-"))
        if os.getuid() == 0:
            owner = pwd.getpwnam(stack.PG_SUPERUSER)
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
        self.data, self.run_dir = self.home / "data", self.home / "run"

    def create(self):
        stack.pg_init(self.home)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("shared_buffers = 32MB\nmax_connections = 60\nfsync = off\n")
        self.start()
        self.psql("postgres", "CREATE DATABASE geodispatch")
        self.psql("geodispatch", "CREATE EXTENSION postgis")

    def pg_ctl(self, *args):
        command = [stack.pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.home / "server.log"), *args]
        subprocess.run(stack.as_cluster_owner(command), check=True, stdout=subprocess.DEVNULL)

    def start(self):
        self.pg_ctl("-w", "-t", "60", "start")

    def stop(self):
        self.pg_ctl("-m", "fast", "-w", "stop")

    def ensure_running(self):
        """Start the cluster again if a failed test left it stopped (the next test needs it)."""
        if not (self.data / "postmaster.pid").exists():
            self.start()

    def psql(self, database, sql):
        command = [stack.pg_bin("psql"), "-h", str(self.run_dir), "-U", stack.PG_SUPERUSER, "-d", database,
                   "-v", "ON_ERROR_STOP=1", "-tAc", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    def pids(self):
        """Return the postmaster's pid and its children's (this cluster's processes only)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
        return [postmaster, *(int(pid) for pid in children.stdout.split())]

    def signal(self, pids, signum):
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def url(self):
        return f"postgres://{stack.PG_SUPERUSER}@/geodispatch?host={self.run_dir}"

    def remove(self):
        subprocess.run(stack.as_cluster_owner(
            [stack.pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        ), capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


class Processes:
    """The processes this module started, stopped at the end by their own handles."""

    def __init__(self, folder):
        self.folder, self.started = folder, []

    def daphne(self, env):
        port = free_port()
        log = self.folder / f"daphne-{port}.log"
        process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(log, "wb"))
        self.started.append(process)
        wait_listening(port, process, log)
        return port

    def spawn(self, name, command, env):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(self.folder / f"{name}.log", "wb"))
        self.started.append(process)
        return process

    def stop_all(self):
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def system():
    """Start the cluster (migrated, with the sample city), one Daphne and one worker; yield what tests need."""
    cluster = Cluster()
    processes = Processes(cluster.home)
    try:
        cluster.create()
        env = dict(os.environ, DATABASE_URL=cluster.url(), CHANNEL_LAYER_PREFIX=f"gdout{uuid.uuid4().hex[:8]}",
                   PYTHONPATH=str(ROOT))
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True)
        subprocess.run([*manage, "load_sample_city"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        for user in (["t-outage", "--role", "dispatcher"], ["t-outage-op", "--role", "operator", "--subcenter",
                                                             "530921-water"]):
            subprocess.run([*manage, "add_user", *user, "--password", PASSWORD],
                           env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        port = processes.daphne(env)
        processes.spawn("worker", [*manage, "run_dispatch_worker", "--interval", "0.5"], env)
        token, operator_token = (httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token", timeout=10,
                                            json={"username": name, "password": PASSWORD}).json()["token"]
                                 for name in ("t-outage", "t-outage-op"))
        parts = {"cluster": cluster, "processes": processes, "env": env, "port": port, "token": token,
                 "operator_token": operator_token}
        system = type("System", (), parts)
        ready = until_ready(system)
        assert ready.status_code == 200, (ready.text, (cluster.home / "worker.log").read_text()[-2000:])
        yield system
    finally:
        processes.stop_all()
        cluster.remove()


def call(system, method, path, body=None, key=None, port=None):
    """Return (response, seconds taken) of one API call."""
    headers = {"Authorization": f"Token {system.token}"}
    if key:
        headers["Idempotency-Key"] = key
    started = time.monotonic()
    response = httpx.request(method, f"http://127.0.0.1:{port or system.port}/api/v1/{path}", json=body,
                             headers=headers, timeout=15)
    return response, time.monotonic() - started


def assert_unavailable(response, took):
    assert took < OUTAGE_ANSWER_S, f"answered after {took:.2f} s"
    assert response.status_code == 503, response.text[:300]
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    assert "database unavailable" in " ".join(response.json()["errors"]["detail"])
    assert int(response.headers["Retry-After"]) > 0


def until_answered(system, method, path, body=None, key=None, within_s=30):
    """Call again until the answer is no 503 (the database is back); return that answer."""
    deadline = time.monotonic() + within_s
    while True:
        response, _ = call(system, method, path, body, key)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def until_ready(system, within_s=30):
    """Return /health/ready once all is ok, the worker too (or its last answer): the worker takes a few seconds."""
    deadline = time.monotonic() + within_s
    while True:
        response, _ = call(system, "GET", "health/ready")
        if (response.status_code == 200 and response.json()["worker"]["ok"]) or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def stored(system, key):
    sql = f"SELECT count(*) FROM dispatch_incident WHERE idempotency_key = '{key}'"
    return int(system.cluster.psql("geodispatch", sql))


def test_a_stopped_database_is_answered_with_503_and_retried_reports_are_stored_once(system):
    async def scenario():
        console, terminal = Client(system.port, system.token), Client(system.port, system.operator_token)
        for client in (console, terminal):
            await client.connect()
            await client.send(type="ping", ref="open")  # answered once the replay after the snapshot is sent
            await client.until(lambda f: f["type"] == "pong")
        system.cluster.stop()
        stopped_at = time.monotonic()
        keys = [f"outage-{uuid.uuid4().hex}" for _ in range(3)]
        for n, key in enumerate(keys):
            response, took = await asyncio.to_thread(call, system, "POST", "incidents", report_body(f"停库{n}"), key)
            assert_unavailable(response, took)
        down = await console.until(lambda f: f["type"] == "degraded")
        assert down["database"] is False
        await terminal.send(type="heartbeat", audio_armed=True, page_visible=True, ref="h1")  # presence changes
        assert (await terminal.until(lambda f: f["type"] == "pong"))["ref"] == "h1"
        await terminal.send(type="delivered", ticket=1, ref="d1")
        refused = await terminal.until(lambda f: f["type"] == "result")
        assert (refused["ref"], refused["ok"]) == ("d1", False)
        assert "database unavailable" in refused["errors"]["detail"][0]
        assert {"type": "degraded", "database": False} in [{k: f[k] for k in ("type", "database") if k in f}
                                                           for f in terminal.frames]
        while time.monotonic() - stopped_at < 5:  # once the pool's dead connections are spent, it waits its timeout
            response, took = await asyncio.to_thread(call, system, "GET", "incidents?limit=1")
            assert_unavailable(response, took)
        await asyncio.to_thread(system.cluster.start)
        back = await console.until(lambda f: f["type"] == "degraded")
        assert back["database"] is True
        made = []
        for n, key in enumerate(keys):
            response = await asyncio.to_thread(until_answered, system, "POST", "incidents", report_body(f"停库{n}"), key)
            assert response.status_code == 201, response.text[:300]
            again, _ = await asyncio.to_thread(call, system, "POST", "incidents", report_body(f"停库{n}"), key)
            assert again.status_code == 200, again.text[:300]
            made.append(response.json()["incident"]["id"])
        for incident_id in made:
            await console.until(lambda f, i=incident_id: is_event("incident.reported")(f) and f["incident_id"] == i)
            await terminal.until(lambda f, i=incident_id: is_event("ticket.issued")(f) and f["incident_id"] == i)
        assert [stored(system, key) for key in keys] == [1, 1, 1]
        await console.ws.close()
        await terminal.ws.close()
        ready = await asyncio.to_thread(until_ready, system)
        assert ready.status_code == 200 and ready.json()["worker"]["ok"], ready.text  # the worker passes again

    try:
        asyncio.run(scenario())
    finally:
        system.cluster.ensure_running()


def test_a_frozen_database_is_answered_with_503_within_the_limit_then_serves_again(system):
    warm, _ = call(system, "GET", "incidents?limit=1")
    assert warm.status_code == 200, warm.text[:300]
    pids = system.cluster.pids()
    system.cluster.signal(pids, signal.SIGSTOP)
    try:
        frozen_at = time.monotonic()
        for attempt in range(2):
            response, took = call(system, "GET", "incidents?limit=1")
            assert_unavailable(response, took)
        response, took = call(system, "POST", "incidents", report_body("冻库"), key=f"frozen-{uuid.uuid4().hex}")
        assert_unavailable(response, took)
        time.sleep(max(0.0, 6 - (time.monotonic() - frozen_at)))
    finally:
        system.cluster.signal(pids, signal.SIGCONT)
    response = until_answered(system, "GET", "incidents?limit=1")
    assert response.status_code == 200, response.text[:300]
    ready = until_ready(system)
    assert ready.status_code == 200 and ready.json()["worker"]["ok"], ready.text  # the worker passes again


def test_health_answers_in_time_with_streams_open_and_names_a_stopped_channel_layer(system):
    assert until_ready(system).status_code == 200  # an earlier outage may still be wearing off

    async def scenario():
        streams = [Client(system.port, system.token) for _ in range(3)]
        for stream in streams:
            await stream.connect()
        for path in ("health", "health/ready"):
            response, took = await asyncio.to_thread(call, system, "GET", path)
            assert (response.status_code, took < HEALTH_ANSWER_S) == (200, True), (path, took, response.text[:500])
        ready = response.json()
        parts = ("database", "channel_layer", "hub", "worker")
        assert all(ready[part]["ok"] and "latency_ms" in ready[part] for part in parts), ready
        assert ready["hub"]["detail"]["streams"] >= 3
        for stream in streams:
            await stream.ws.close()

    asyncio.run(scenario())

    sock = system.cluster.home / "redis.sock"
    redis = system.processes.spawn("redis", ["redis-server", "--port", "0", "--unixsocket", str(sock),
                                             "--save", "", "--appendonly", "no"], system.env)
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    port = system.processes.daphne(dict(system.env, REDIS_URL=f"unix://{sock}"))
    redis.terminate()
    redis.wait(timeout=5)
    ready, took = call(system, "GET", "health/ready", port=port)
    assert ready.status_code == 503 and took < HEALTH_ANSWER_S, (took, ready.text[:500])
    assert ready.json()["channel_layer"]["ok"] is False
    alive, took = call(system, "GET", "health", port=port)
    assert alive.status_code == 200 and took < HEALTH_ANSWER_S
