"""Answer what the database cannot serve with a 503 at once: never an HTML 500, never a hang.

`DatabaseOutageMiddleware` turns the errors of an unreachable database (refused, closed, timed
out, no pooled connection free) into a 503 with Retry-After: the API's one JSON error format
under /api/v1, a plain page elsewhere. A frozen server (SIGSTOP, a hung host) keeps no timeout
of its own, and TCP keepalives do not apply to unix sockets, so `StallGuard` cuts the socket
of a query that has run for STALL_AFTER_S while the server does not answer a new connection.
"""

import contextlib
import logging
import os
import socket
import struct
import sys
import threading
import time

import psycopg
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse

from api.errors import NOT_A_FIELD

log = logging.getLogger(__name__)

ERR_DATABASE_UNAVAILABLE = "database unavailable (数据库不可用); try again shortly"  # both languages: answered before the language is chosen
RETRY_AFTER_S = 5
API_PREFIX = "/api/v1/"
# PoolTimeout is a psycopg OperationalError; Django wraps what its cursors raise in its own classes.
OUTAGE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
STALL_AFTER_S = 1.0  # a query this old is checked against the server's liveness
RECENT_S = 3.0  # after an outage error, requests first ask the server whether it answers again
FAST_PROBE_S = 0.3
UNGUARDED = ("/api/v1/health",)  # liveness and readiness say themselves what is down
PROBE_TIMEOUT_S = 0.5  # a live postmaster answers a connection in microseconds
TICK_S = 0.1
PROBE_EVERY_S = 0.5  # while a slow query runs on a live server
# A CancelRequest for no backend: the postmaster's child closes the connection without a word or a log line.
CANCEL_NOBODY = struct.pack("!iiii", 16, 80877102, 0, 0)


def unavailable_response(request):
    """Return the 503 for a request the database could not serve."""
    if request.path.startswith(API_PREFIX):
        response = JsonResponse({"errors": {NOT_A_FIELD: [ERR_DATABASE_UNAVAILABLE]}}, status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>503</title><p>{ERR_DATABASE_UNAVAILABLE}</p>", status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseOutageMiddleware:
    """Answer 503 when the database is unreachable or stalled, wherever in the request it shows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if OUTAGE.recent() and not request.path.startswith(UNGUARDED) and not OUTAGE.answers_again():
            return unavailable_response(request)  # no thread waits out the pool's timeout meanwhile
        with connection.execute_wrapper(STALL_GUARD.watch):
            response = self.get_response(request)
        # An error raised in a middleware below this one has already become a 500 by now.
        if getattr(request, "database_unavailable", False):
            return unavailable_response(request)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, OUTAGE_ERRORS):
            OUTAGE.note()
            log.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request)
        return None


def _mark_outage(sender, request=None, **kwargs):
    """Flag a request whose uncaught exception is an outage, for the middleware to answer 503."""
    if request is not None and isinstance(sys.exc_info()[1], OUTAGE_ERRORS):
        OUTAGE.note()
        request.database_unavailable = True


got_request_exception.connect(_mark_outage, dispatch_uid="api.outage.mark_outage")


def server_address(db):
    """Return (family, address) of the server in a DATABASES entry (a unix socket when HOST is a folder)."""
    host, port = (db.get("HOST") or "/var/run/postgresql").split(",")[0], db.get("PORT") or "5432"
    if host.startswith("/"):
        return socket.AF_UNIX, os.path.join(host, f".s.PGSQL.{port}")
    return socket.AF_INET6 if ":" in host else socket.AF_INET, (host, int(port))


def server_answers(db, timeout=PROBE_TIMEOUT_S):
    """Tell whether the server takes a connection and answers a no-op cancel request within timeout."""
    family, address = server_address(db)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.connect(address)
            probe.sendall(CANCEL_NOBODY)
            probe.recv(1)  # EOF: it read the request and hung up
            return True
    except ConnectionResetError:
        return True
    except OSError:  # refused, no socket file, or no answer in time
        return False


class StallGuard:
    """Watch running queries; cut the sockets of those stuck on a server that no longer answers."""

    def __init__(self):
        self.running = {}  # token → (started, socket fd)
        self.lock = threading.Lock()
        self.thread = None

    def watch(self, execute, sql, params, many, context):
        """Run one query (a Django execute wrapper), known to the watchdog while it runs."""
        token = object()
        with self.lock:
            self.running[token] = (time.monotonic(), context["connection"].connection.fileno())
            if self.thread is None:
                self.thread = threading.Thread(target=self.patrol, name="db-stall-guard", daemon=True)
                self.thread.start()
        try:
            return execute(sql, params, many, context)
        finally:
            with self.lock:
                del self.running[token]

    def patrol(self):
        while True:
            # A slow query on a live server is left alone; it is checked again after PROBE_EVERY_S.
            time.sleep(TICK_S)
            now = time.monotonic()
            with self.lock:
                stuck = [token for token, (started, _) in self.running.items() if now - started > STALL_AFTER_S]
            if stuck and not server_answers(settings.DATABASES["default"]):
                self.cut(stuck)
            elif stuck:
                time.sleep(PROBE_EVERY_S)

    def cut(self, tokens):
        """Shut down the sockets of queries still running: their threads get an error at once."""
        with self.lock:  # a registered query holds its connection, so its fd is still that socket
            for token in tokens:
                if token in self.running:
                    fd = self.running[token][1]
                    log.warning("the database server does not answer; cutting a query stuck for %.1f s",
                                time.monotonic() - self.running[token][0])
                    with socket.socket(fileno=os.dup(fd)) as stuck, contextlib.suppress(OSError):
                        stuck.shutdown(socket.SHUT_RDWR)


STALL_GUARD = StallGuard()


class Outage:
    """Remember that the database was just unreachable: while it stays so, answer 503 without waiting.

    Under a stream of requests and retries, each one waiting DB_POOL_TIMEOUT_S for a connection
    that cannot come fills the worker threads, and the 503s themselves come late.
    """

    def __init__(self):
        self.seen_at = -RECENT_S

    def note(self):
        self.seen_at = time.monotonic()

    def recent(self):
        return time.monotonic() - self.seen_at < RECENT_S

    def answers_again(self):
        """Tell whether the server takes connections again (then requests go through as usual)."""
        if server_answers(settings.DATABASES["default"], timeout=FAST_PROBE_S):
            return True
        self.note()
        return False


OUTAGE = Outage()
