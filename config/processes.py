"""Launch Daphne (its command, a free port, waiting until it listens) and greet the user.

Shared by the run command (config/supervisor_conf.py), the benchmarks and the live tests.
"""

import socket
import subprocess
import sys
import time
from pathlib import Path

from config.env import env_networks

ROOT = Path(__file__).resolve().parent.parent


# A dispatcher's snapshot of every open ticket and incident is one frame: at about 800 bytes each,
# Daphne's default 1 MiB refused it past ~1,300 open items, and the console could not connect at all.
WEBSOCKET_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def daphne_options(*options):
    """Return Daphne's options other than where it listens (no 24-hour socket timeout, room for a big snapshot)."""
    return ["--websocket_timeout", "-1", "--websocket-max-message-size", str(WEBSOCKET_MAX_MESSAGE_BYTES), *options]


def daphne_command(port, *options):
    """Return the command of one Daphne process on 127.0.0.1:port."""
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *daphne_options(*options),
            "config.asgi:application"]


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


def stop_process(process, timeout=10):
    """Stop a child with SIGTERM; kill it if it is still there after timeout seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def print_welcome(env):
    port = env.get("PORT", "8000")
    print(f"\n  GeoDispatch is running on http://127.0.0.1:{port}/", flush=True)
    print(f"  Admin: http://127.0.0.1:{port}/admin/", flush=True)
    logins = Path(env["DJANGO_DEMO_DIR"]) / "demo_logins.json"
    if logins.exists():  # the passwords stay in the 0600 file: a terminal's output ends up in logs
        print(f"  Demo logins (embedded demo only): usernames and passwords in {logins}", flush=True)
    print("  Ctrl-C stops everything.\n", flush=True)
