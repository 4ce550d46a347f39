"""Health: /health says this process answers (liveness); /health/ready checks what it needs (readiness).

Readiness checks the database (SELECT 1), the channel layer's Redis (a PING on a connection of
its own: receiving on a new channel would compete with this process's hub for the layer's
receive loop), this process's hub (how far behind the log) and the deadline workers'
heartbeats. Each check runs in its own small thread pool under one deadline, so the answer
comes within a second whatever is down, and a check stuck on a frozen server holds no other.
"""

import time
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.module_loading import import_string

from dispatch import heartbeats
from dispatch.selectors import stream

DEADLINE_S = 0.8  # the whole answer within 1 s
HUB_STALE_S = 6.0  # the hub reads the log every 2 s: three missed reads mean it is stuck


def health(request):
    """Answer 200 while this process serves requests; touch neither the database nor Redis."""
    return JsonResponse({"ok": True})


def database_check():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, "SELECT 1 answered"


def channel_layer_check():
    if heartbeats.redis_url() is None:
        return True, "in-memory channel layer (one process)"
    heartbeats.redis_client().ping()
    return True, "Redis answered PING"


def hub_check():
    hubs = import_string(settings.HUB_PROGRESS)()
    if not hubs:
        return True, "no stream in this process"
    log_seq = stream.head_seq()
    streams, last_seq, since_poll = max(hubs, key=lambda hub: hub[2])
    detail = {"streams": streams, "seq": last_seq, "log_seq": log_seq, "events_behind": max(0, log_seq - last_seq),
              "last_log_read_s_ago": round(since_poll, 1)}
    return since_poll < HUB_STALE_S, detail


def worker_check():
    if heartbeats.redis_url() is None:
        return True, "not tracked with the in-memory channel layer"
    beats = heartbeats.worker_beats()
    return bool(beats), {"workers": beats} if beats else "no deadline worker has finished a pass lately"


CHECKS = {"database": database_check, "channel_layer": channel_layer_check, "hub": hub_check, "worker": worker_check}
# What this web process needs to serve. The worker is reported for monitoring, but a load balancer
# must not take every web node out because one separate process is down.
SERVING = ("database", "channel_layer", "hub")
_POOLS = {name: ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"health-{name}") for name in CHECKS}


def _run(check):
    """Return one check's state: ok, latency_ms and detail (the error, when it failed)."""
    started = time.monotonic()
    try:
        ok, detail = check()
    except Exception as exc:  # the point of a health check is to report any failure
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()  # give a pooled connection back; this thread may wait long for the next check
    return {"ok": ok, "latency_ms": round((time.monotonic() - started) * 1000, 1), "detail": detail}


def ready(request):
    """Answer 200 when every part this process needs to serve answers, else 503; the worker is reported too."""
    futures = {name: _POOLS[name].submit(_run, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=DEADLINE_S)
    for future in futures.values():
        future.cancel()  # one still queued behind a stuck check is not run late for nobody
    state = {
        name: future.result() if future.done() else
        {"ok": False, "latency_ms": DEADLINE_S * 1000, "detail": f"no answer within {DEADLINE_S * 1000:.0f} ms"}
        for name, future in futures.items()
    }
    healthy = all(state[name]["ok"] for name in SERVING)
    return JsonResponse({"ok": healthy, **state}, status=200 if healthy else 503)
