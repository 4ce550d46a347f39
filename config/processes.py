"""Launch Daphne (its command, a free port, waiting until it listens) and greet the user.

Shared by the run command (config/supervisor_conf.py), the benchmarks and the live tests.
"""

import json
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def daphne_options(*options):
    """Return Daphne's options other than where it listens (no 24-hour socket timeout)."""
    return ["--websocket_timeout", "-1", *options]


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
