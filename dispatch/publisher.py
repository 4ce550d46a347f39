"""Ring the doorbell after commit: tell the channel layer which events are new, with their seqs.

The event log is the mailbox; the channel layer only says "look". A lost doorbell costs
latency, never an event: consumers read from the log by seq. dispatch never imports realtime.

The doorbell is rung on one background thread per process, with a timeout: a request never
waits on Redis (a frozen Redis once held every report for as long as it was frozen).
"""

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from dispatch.events import events_numbered
from dispatch.representations import event_data

log = logging.getLogger(__name__)

GROUP_ALL = "events.all"  # one member per stream process (its hub), not one per socket
MESSAGE_TYPE = "events.new"
RING_TIMEOUT_S = 1.0  # a healthy Redis answers in milliseconds; the hubs' poll covers the rest
MAX_RINGING = 200  # doorbells in flight at once; beyond that, Redis is stuck and more would only queue


def publish_on_commit(events):
    """After the current transaction commits, tell every stream process which events are new."""
    if events:
        transaction.on_commit(lambda: publish(events))


def publish(events):
    """Hand the doorbell for these committed events to the background thread; never wait on it."""
    layer = get_channel_layer()
    if layer is None:
        return
    events = events_numbered(events)  # on the committing thread: it holds the database connection
    message = {
        "type": MESSAGE_TYPE,
        "events": [{"seq": e.seq, "audience": e.audience, "event": event_data(e)} for e in events],
    }
    if isinstance(layer, InMemoryChannelLayer):
        # One process (tests, no REDIS_URL): the layer lives on the caller's event loop and cannot stall.
        return _ring_in_process(layer, message)
    _bell.ring(layer, message)


def _ring_in_process(layer, message):
    try:
        async_to_sync(layer.group_send)(GROUP_ALL, message)
    except Exception:  # the log already holds the events; the streams catch up from it
        log.exception("doorbell failed for events %s", _seqs(message))


def _seqs(message):
    return [e["seq"] for e in message["events"]]


class Bell:
    """A daemon thread with its own event loop that rings doorbells, each within RING_TIMEOUT_S."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop = None
        self.ringing = 0
        self.failing = False

    def ring(self, layer, message):
        """Start sending the message on the doorbell thread; return at once."""
        with self.lock:
            if self.ringing >= MAX_RINGING:
                log.warning("doorbell dropped for events %s: %d still ringing", _seqs(message), self.ringing)
                return
            self.ringing += 1
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="doorbell", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.send(layer, message), self.loop)

    async def send(self, layer, message):
        try:
            await asyncio.wait_for(layer.group_send(GROUP_ALL, message), RING_TIMEOUT_S)
        except Exception as error:  # the log already holds the events; the streams catch up from it
            self.note(ok=False, error=error, seqs=_seqs(message))
        else:
            self.note(ok=True)
        finally:
            with self.lock:
                self.ringing -= 1

    def note(self, *, ok, error=None, seqs=()):
        """Log when the doorbell starts failing and when it works again, not at every event."""
        if not ok and not self.failing:
            log.warning("doorbell failing (%r) from events %s; the streams read the log meanwhile", error, seqs)
        elif ok and self.failing:
            log.warning("doorbell works again")
        self.failing = not ok


_bell = Bell()
