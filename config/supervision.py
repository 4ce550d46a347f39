"""Run supervisord in the foreground, start the system's programs, report their state, stop it all.

supervisord is spoken to over its unix control socket (XML-RPC, as supervisorctl does).
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from datetime import datetime
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from config.supervisor_conf import APP_GROUPS, CONF_NAME, ROOT, SOCKET_NAME, write_config

STOP_TIMEOUT_S = 9  # supervisord's own orderly stop; the last second is for killing leftovers
PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True)


class SupervisorError(RuntimeError):
    """supervisord did not start, or a program did not come up."""


def control(home):
    """Return an XML-RPC proxy to the supervisord whose control socket is in home."""
    transport = SupervisorTransport(None, None, f"unix://{Path(home) / SOCKET_NAME}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def answers(home):
    """Tell whether a supervisord listens on home's control socket."""
    try:
        return control(home).supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Error):
        return False


def stop_with_parent():
    """Have the kernel send this (forked) process SIGTERM when its parent dies, even by SIGKILL."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def process_name(info):
    return info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"


class Supervisor:
    """One supervisord, started by us in the foreground with its config and logs under home."""

    def __init__(self, home):
        self.home = Path(home)
        self.process = None
        self.rpc = control(self.home).supervisor

    def start(self, env, text, *, output=None, timeout=15):
        """Write the config, start supervisord and return once it answers."""
        if answers(self.home):
            raise SupervisorError(f"a supervisord already runs from {self.home} (./geodispatch status)")
        conf = write_config(self.home, text)
        command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)]
        # Its own session: a Ctrl-C in the terminal reaches us only, and we stop it in order.
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True,
                                        preexec_fn=stop_with_parent,
                                        stdout=output, stderr=subprocess.STDOUT if output else None)
        deadline = time.monotonic() + timeout
        while not answers(self.home):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SupervisorError(f"supervisord did not start; see {self.log_path()}")
            time.sleep(0.1)

    def log_path(self, name="supervisord"):
        return self.home / "logs" / f"{name}.log"

    def processes(self):
        """Return supervisord's view of every process, by name (group:name)."""
        return {process_name(info): info for info in self.rpc.getAllProcessInfo()}

    def start_app(self, timeout=60):
        """Start Daphne and the workers; return once all are RUNNING."""
        for group in APP_GROUPS:
            self.rpc.startProcessGroup(group, False)
        self.wait_running([name for name in self.processes() if name.split(":")[0] in APP_GROUPS], timeout)

    def wait_running(self, names, timeout):
        """Return once every named process is RUNNING; raise SupervisorError if one gives up or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            states = {name: info["statename"] for name, info in self.processes().items() if name in names}
            if all(state == "RUNNING" for state in states.values()):
                return
            failed = [name for name, state in states.items() if state == "FATAL"]
            if failed or time.monotonic() > deadline:
                raise SupervisorError(f"{', '.join(failed or states)} did not start; see {self.home / 'logs'}")
            time.sleep(0.2)

    def wait(self):
        """Return supervisord's exit code once it exits."""
        return self.process.wait()

    def stop(self):
        """Stop supervisord and its programs in order; kill whatever is left after STOP_TIMEOUT_S."""
        if self.process is None or self.process.poll() is not None:
            return
        pids = self.child_pids()
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in pids:
            kill_group(pid)

    def child_pids(self):
        try:
            return [info["pid"] for info in self.processes().values() if info["pid"]]
        except (OSError, xmlrpc.client.Error):
            return []


def kill_group(pid):
    """Kill the process group a supervised child leads (supervisord gives each child its own)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def restarts(log_dir):
    """Return how often supervisord spawned each process again since it last started, from its log."""
    logs = sorted(Path(log_dir).glob("supervisord.log*"), key=lambda p: p.stat().st_mtime)
    spawns = {}
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            if "supervisord started with pid" in line:
                spawns.clear()
            elif " spawned: '" in line:
                name = line.split(" spawned: '", 1)[1].split("'", 1)[0]
                spawns[name] = spawns.get(name, 0) + 1
    return {name: count - 1 for name, count in spawns.items()}


def status_rows(home):
    """Return (name, state, pid, up since, restarts) for every supervised process."""
    counts = restarts(Path(home) / "logs")
    rows = []
    for name, info in Supervisor(home).processes().items():
        running = info["statename"] == "RUNNING"
        since = datetime.fromtimestamp(info["start"]).strftime("%Y-%m-%d %H:%M:%S") if running else "-"
        rows.append((name, info["statename"], str(info["pid"] or "-"), since, str(counts.get(info["name"], 0))))
    return rows


def print_status(home):
    """Print each supervised process's state, pid, start time and restarts; return 3 if none runs."""
    if not answers(home):
        print(f"GeoDispatch is not running (no supervisord answers on {Path(home) / SOCKET_NAME}).")
        return 3
    header = ("PROCESS", "STATE", "PID", "UP SINCE", "RESTARTS")
    rows = [header, *status_rows(home)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\nLogs: {Path(home) / 'logs'}/   Config: {Path(home) / CONF_NAME}")
    return 0
