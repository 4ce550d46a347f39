"""Run the system's long-lived processes in the foreground until Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands(env):
    """Return the processes of the system, by name."""
    port = env.get("PORT", "8000")
    python = sys.executable
    return {
        "daphne": [
            python, "-m", "daphne", "-b", "127.0.0.1", "-p", port,
            "--websocket_timeout", "-1", "--proxy-headers", "config.asgi:application",
        ],
    }


def print_welcome(env):
    port = env.get("PORT", "8000")
    print(f"\n  GeoDispatch is running on http://127.0.0.1:{port}/", flush=True)
    print(f"  Admin: http://127.0.0.1:{port}/admin/", flush=True)
    logins = Path(env["DJANGO_DEMO_DIR"]) / "demo_logins.json"
    if logins.exists():
        print("  Demo logins (embedded demo only; generated for this checkout):")
        for row in json.loads(logins.read_text()):
            print(f"    {row['role']:<10} {row['username']:<28} {row['password']}")
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
