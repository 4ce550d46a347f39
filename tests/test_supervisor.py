"""Live: the run command's processes under a real supervisord, against the test database and Redis.

The config comes from the same code as `./geodispatch run` (config/supervisor_conf.py); the
test session's PostgreSQL and Redis are already running, so only Daphne ×2 and the worker
are supervised here.
"""

import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from config import supervision, supervisor_conf
from config.processes import free_port
from tests.conftest import ROOT
from tests.test_live_stream import database_url_for_tests

pytestmark = pytest.mark.live

COME_BACK_S = 5
STOP_WITHIN_S = 10
DAPHNES = ("daphne:daphne_00", "daphne:daphne_01")


@pytest.fixture
def supervised(django_db_setup, tmp_path):
    """Start Daphne ×2 and the worker under supervisord in tmp_path; return (supervisor, port)."""
    port = free_port()
    env = dict(
        os.environ, DATABASE_URL=database_url_for_tests(), CHANNEL_LAYER_PREFIX=f"gdsup{os.getpid()}",
        PORT=str(port), WEB_PROCESSES="2", WORKER_PROCESSES="1", PYTHONPATH=str(ROOT),
    )
    supervisor = supervision.Supervisor(tmp_path)
    try:
        supervisor.start(env, supervisor_conf.config_text(env), output=subprocess.DEVNULL)
        supervisor.start_app()
        yield supervisor, port
    finally:
        supervisor.stop()


def get(port, path="/login/"):
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code


def pid_of(supervisor, name):
    return supervisor.processes()[name]["pid"]


def listening_inode(port):
    """Return the inode of the socket listening on 127.0.0.1:port, from /proc/net/tcp."""
    with open("/proc/net/tcp") as table:
        for row in table.read().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A: LISTEN
                return fields[9]
    raise AssertionError(f"nothing listens on {port}")


def socket_inodes(pid):
    links = (os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
    return {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}


def is_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill_and_keep_asking(supervisor, port, name):
    """SIGKILL one process; return its new pid and the HTTP answers got until it is RUNNING again."""
    old = pid_of(supervisor, name)
    os.kill(old, signal.SIGKILL)
    codes, deadline = [], time.monotonic() + COME_BACK_S
    while time.monotonic() < deadline:
        codes.append(get(port))
        info = supervisor.processes()[name]
        if info["statename"] == "RUNNING" and info["pid"] != old:
            return info["pid"], codes
        time.sleep(0.1)
    pytest.fail(f"{name} is not RUNNING again {COME_BACK_S} s after SIGKILL: {supervisor.processes()[name]}")


def test_both_daphne_processes_hold_the_one_port_and_each_serves_alone(supervised):
    supervisor, port = supervised
    pids = [pid_of(supervisor, name) for name in DAPHNES]
    assert len(set(pids)) == 2
    shared = listening_inode(port)
    assert all(shared in socket_inodes(pid) for pid in pids)
    assert get(port, "/api/v1/health") == 200
    for serving, paused in (pids, pids[::-1]):
        os.kill(paused, signal.SIGSTOP)  # a stopped process accepts nothing: the other must answer
        try:
            assert [get(port) for _ in range(3)] == [200] * 3, f"pid {serving} alone did not answer"
        finally:
            os.kill(paused, signal.SIGCONT)


def test_a_killed_daphne_is_back_within_5_s_while_the_other_keeps_answering(supervised):
    supervisor, port = supervised
    other = pid_of(supervisor, DAPHNES[1])
    old = pid_of(supervisor, DAPHNES[0])
    new, codes = kill_and_keep_asking(supervisor, port, DAPHNES[0])
    assert new != old and codes and set(codes) == {200}
    assert pid_of(supervisor, DAPHNES[1]) == other
    assert get(port) == 200
    rows = {row[0]: row for row in supervision.status_rows(supervisor.home)}
    assert (rows[DAPHNES[0]][1], rows[DAPHNES[0]][4], rows[DAPHNES[1]][4]) == ("RUNNING", "1", "0")


def test_a_killed_worker_is_back_within_5_s(supervised):
    supervisor, port = supervised
    old = pid_of(supervisor, "worker:worker_00")
    new, codes = kill_and_keep_asking(supervisor, port, "worker:worker_00")
    assert new != old and set(codes) == {200}


def test_stopping_supervisord_stops_every_child_within_10_s(supervised):
    supervisor, port = supervised
    pids = supervisor.child_pids()
    assert len(pids) == 3 and all(is_alive(pid) for pid in pids)
    started = time.monotonic()
    supervisor.stop()
    elapsed = time.monotonic() - started
    assert [pid for pid in pids if is_alive(pid)] == []
    assert elapsed < supervision.STOP_TIMEOUT_S < STOP_WITHIN_S, "supervisord had to be killed"
    assert supervisor.process.returncode == 0  # an orderly stop, not a kill
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


@pytest.mark.parametrize("name, value", [("WEB_PROCESSES", "0"), ("WORKER_PROCESSES", "two"), ("PORT", "80000")])
def test_a_bad_process_setting_stops_start_up_with_its_name(name, value):
    with pytest.raises(SystemExit, match=name):
        supervisor_conf.config_text({name: value})


def test_the_config_asks_for_the_process_counts_of_the_environment():
    text = supervisor_conf.config_text({"PORT": "8123", "WEB_PROCESSES": "3", "WORKER_PROCESSES": "2"})
    daphne = text.split("[fcgi-program:daphne]")[1].split("\n\n")[0]
    worker = text.split("[program:worker]")[1].split("\n\n")[0]
    assert "socket=tcp://127.0.0.1:8123" in daphne and "numprocs=3" in daphne and "--fd 0" in daphne
    assert "numprocs=2" in worker and "run_dispatch_worker" in worker


def test_restarts_are_counted_since_supervisord_last_started(tmp_path):
    (tmp_path / "supervisord.log").write_text(
        "2026-12-01 10:00:00,000 INFO supervisord started with pid 10\n"
        "2026-12-01 10:00:01,000 INFO spawned: 'daphne_00' with pid 11\n"
        "2026-12-01 10:00:02,000 INFO spawned: 'daphne_00' with pid 12\n"
        "2026-12-01 11:00:00,000 INFO supervisord started with pid 20\n"
        "2026-12-01 11:00:01,000 INFO spawned: 'daphne_00' with pid 21\n"
        "2026-12-01 11:00:01,000 INFO spawned: 'worker_00' with pid 22\n"
        "2026-12-01 11:00:09,000 WARN exited: worker_00 (terminated by SIGKILL; not expected)\n"
        "2026-12-01 11:00:09,500 INFO spawned: 'worker_00' with pid 23\n"
        "2026-12-01 11:00:12,000 INFO spawned: 'worker_00' with pid 24\n"
    )
    assert supervision.restarts(tmp_path) == {"daphne_00": 0, "worker_00": 2}
