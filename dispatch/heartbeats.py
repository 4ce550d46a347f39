"""Heartbeats of the deadline workers, kept in the channel layer's Redis (no table, no migration).

Each worker process writes `<prefix>:worker:<host>:<pid>` after every pass that reached the
database, with a time to live: a worker that stopped, or cannot work, disappears by itself.
"""

import logging
import os
import socket
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)

TIMEOUT_S = 0.5  # a health check answers within 1 s, whatever Redis does
MIN_TTL_S = 10

_clients = {}


def redis_url():
    """Return the Redis URL of the channel layer, or None for the in-memory layer."""
    return settings.REDIS_URL or None


def redis_client():
    """Return this process's Redis client for the channel layer's server (short timeouts)."""
    url = redis_url()
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    return _clients[url]


def _prefix():
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "geodispatch")


def worker_key():
    return f"{_prefix()}:worker:{socket.gethostname()}:{os.getpid()}"


def worker_beat(*, interval_s):
    """Record that this worker finished a pass; a Redis outage is logged, never stops the worker."""
    if redis_url() is None:
        return
    try:
        redis_client().set(worker_key(), f"{time.time():.3f}", ex=max(MIN_TTL_S, round(3 * interval_s)))
    except redis.RedisError as problem:
        log.warning("could not record the worker's heartbeat: %s", problem)


def worker_beats():
    """Return {worker key: seconds since its last pass} for the workers alive now."""
    client = redis_client()
    keys = list(client.scan_iter(match=f"{_prefix()}:worker:*", count=1000))
    beats = client.mget(keys) if keys else []
    now = time.time()
    return {key.decode(): round(now - float(beat), 1) for key, beat in zip(keys, beats) if beat}
