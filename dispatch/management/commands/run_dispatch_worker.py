"""The deadline worker: climb due tickets' ladders, send due notices, sign the event log's head, until told to stop.

Any number of copies may run, on any host: rows are claimed with SKIP LOCKED.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError
from django.db import close_old_connections
from django.utils import timezone

from dispatch.heartbeats import worker_beat
from dispatch.services import checkpoint_sign_due, notices_send_due, terminals_sweep, tickets_escalate_due

log = logging.getLogger("dispatch.worker")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def worker_loop(*, stop: threading.Event, interval: float = 1.0, batch: int = 100, once: bool = False) -> int:
    """Escalate due tickets every `interval` seconds until `stop` is set; return how many were claimed.

    A full batch means more may be waiting, so the next pass starts at once. A stop request
    takes effect after the current batch has committed.
    """
    total = 0
    while not stop.is_set():
        try:
            claimed = tickets_escalate_due(now=timezone.now(), batch=batch)
            notices_send_due(now=timezone.now())  # after the climb, so a new page goes out in the same pass
            terminals_sweep()
            checkpoint_sign_due(now=timezone.now())  # at CHECKPOINT_INTERVAL_S or every CHECKPOINT_EVERY events
        except DatabaseError:  # the database restarted or went away: retry after a pause
            log.exception("escalation pass failed; retrying in %.1f s", interval)
            close_old_connections()
            claimed = 0
        else:  # only a pass that reached the database says the worker works (GET /api/v1/health/ready)
            worker_beat(interval_s=interval)
        total += claimed
        if once:
            break
        stop.wait(0 if claimed >= batch else interval)
    log.info("worker stopped")
    return total


class Command(BaseCommand):
    help = "Run the deadline and escalation worker (SIGTERM or Ctrl-C stops it after the current batch)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes (default 1)")
        parser.add_argument("--batch", type=int, default=100, help="tickets claimed per transaction (default 100)")
        parser.add_argument("--once", action="store_true", help="run a single pass and exit")

    def handle(self, *args, interval, batch, once, **options):
        if interval < 0 or batch < 1:
            raise CommandError("--interval must be >= 0 and --batch >= 1")
        stop = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS}
        log.info("worker started (interval %.1f s, batch %d)", interval, batch)
        try:
            total = worker_loop(stop=stop, interval=interval, batch=batch, once=once)
        finally:  # call_command() in a longer-lived process gets its handlers back
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if once:
            self.stdout.write(f"escalated {total} tickets")
