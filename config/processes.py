"""Run the system's long-lived processes in the foreground until Ctrl-C."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def daphne_command(port, *options):
    """Return the command of one Daphne process on 127.0.0.1:port (no 24-hour socket timeout)."""
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--websocket_timeout", "-1",
            *options, "config.asgi:application"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port, process, log, timeout=30):
    """Return once something listens on the port; raise RuntimeError if the process exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the process for port {port} exited; see {log}") from None
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s; see {log}")


def commands(env):
    """Return the processes of the system, by name."""
    return {
        "daphne": daphne_command(env.get("PORT", "8000"), "--proxy-headers"),
        "worker": [sys.executable, "manage.py", "run_dispatch_worker"],
    }


def print_welcome(env):
    port = env.get("PORT", "8000")
    print(f"\n  GeoDispatch is running on http://127.0.0.1:{port}/", flush=True)
    print(f"  Admin: http://127.0.0.1:{port}/admin/", flush=True)
    logins = Path(env["DJANGO_DEMO_DIR"]) / "demo_logins.json"
    if logins.exists():
        rows = json.loads(logins.read_text())
        operators = [row for row in rows if row["role"] == "operator"]
        print(f"  Demo logins (embedded demo only; generated for this checkout, kept in {logins}):")
        for row in [row for row in rows if row["role"] != "operator"] + operators[:6]:
            print(f"    {row['role']:<10} {row['username']:<24} {row['password']}")
        print(f"    … and {len(operators) - 6} more operators, one per sub-center (op-<code>), in that file")
    print("  Ctrl-C stops everything.\n", flush=True)


def serve(env):
    children = {
        name: subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
        for name, cmd in commands(env).items()
    }
    print_welcome(env)
    try:
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    raise SystemExit(f"{name} exited with code {child.returncode}")
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
