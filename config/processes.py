"""Run the system's long-lived processes in the foreground until Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from config.env import env_networks

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


def daphne_proxy_options(env):
    """Return Daphne's proxy options for this environment: none, whatever TRUSTED_PROXIES says.

    TRUSTED_PROXIES is applied inside the application (config/proxy.py). Daphne's --proxy-headers
    would take the leftmost X-Forwarded-For entry from any peer and hide the peer, which lets any
    client choose its address (issue #12). Checked here, so a bad value stops the launcher early.
    """
    env_networks("TRUSTED_PROXIES", env)
    return []


def commands(env):
    """Return the processes of the system, by name."""
    return {
        "daphne": daphne_command(env.get("PORT", "8000"), *daphne_proxy_options(env)),
        "worker": [sys.executable, "manage.py", "run_dispatch_worker"],
    }


def print_welcome(env):
    port = env.get("PORT", "8000")
    print(f"\n  GeoDispatch is running on http://127.0.0.1:{port}/", flush=True)
    print(f"  Admin: http://127.0.0.1:{port}/admin/", flush=True)
    logins = Path(env["DJANGO_DEMO_DIR"]) / "demo_logins.json"
    if logins.exists():  # the passwords stay in the 0600 file: a terminal's output ends up in logs
        print(f"  Demo logins (embedded demo only): usernames and passwords in {logins}", flush=True)
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
