"""One listener per process: takes the doorbell for every stream of the process.

The channel layer carries one message per committed transaction to each process (the
`events.all` group has one member per process, not one per socket). The hub puts the events
in seq order, fills any gap from the log (a doorbell is at most once and two processes may
ring out of commit order), encodes each event once, and hands it to the streams whose scope
sees it. Reading the log every POLL_S bounds the cost of a lost doorbell. The hub also
writes, once a second, the heartbeats of its terminals that changed no presence.

Redis is only the doorbell: while the layer fails, the hub reads the log every OUTAGE_POLL_S
and keeps every stream open. Redis keeps group membership, and one restarted empty forgets
it, so the hub re-joins its group after every layer error and every REJOIN_S regardless.
"""

import asyncio
import json
import logging
import time

from channels.layers import get_channel_layer
from django.db import InterfaceError, OperationalError

from dispatch import services
from dispatch.publisher import GROUP_ALL
from dispatch.selectors import stream
from realtime import frames
from realtime.threads import on_stream_thread

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often the hub reads the log for events whose doorbell was lost
OUTAGE_POLL_S = 0.25  # how often while the layer fails: the log is then the only way in
REJOIN_S = 5.0  # group_add is idempotent; re-adding this often undoes a Redis restarted empty
RETRY_S = 0.5  # how soon a failed layer call is tried again
LAYER_TIMEOUT_S = 2.0  # a frozen Redis must not hold the hub's calls for longer
BEATS_S = 1.0  # quiet heartbeats are written in one statement this often
GAP_WAIT_S = 0.03  # a doorbell rung out of commit order is usually this close behind
# What an unreachable database raises through Django (a pool timeout included): the stream waits it out.
DATABASE_DOWN = (OperationalError, InterfaceError)


def encode(content):
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


class Item:
    """One event on its way to the streams: its seq, who sees it, and its frame, encoded once."""

    __slots__ = ("seq", "audience", "data", "_text")

    def __init__(self, seq, audience, data):
        self.seq, self.audience, self.data, self._text = seq, audience, data, None

    @property
    def text(self):
        if self._text is None:
            self._text = encode(frames.event(self.data))
        return self._text


class Hub:
    def __init__(self, layer):
        self.layer = layer
        self.streams = {}  # scope (None or a sub-center id) → set of streams
        self.last_seq = 0
        self.lock = asyncio.Lock()
        self.held = {}  # seq → Item that arrived before an earlier seq
        self.beats = {}  # channel name → page visible: heartbeats that changed no presence
        self.filler = None
        self.ready = None
        self.joining = 0
        self.tasks = []
        self.database_ok = True  # as the last read of the log found it
        self.polled_at = time.monotonic()  # when the poll last read the log
        self.layer_ok = None  # None until the first layer call answers
        self.rejoin = asyncio.Event()

    async def start(self):
        # The default prefix: channels-redis receives a process's channels through one queue per prefix.
        self.channel = await self.layer.new_channel()
        self.last_seq = await on_stream_thread(stream.head_seq)()
        await self.join_group()  # a failure only makes the hub poll faster: streams open without Redis
        loops = (self.listen, self.poll, self.keep_joined, self.record_beats)
        self.tasks = [asyncio.create_task(loop()) for loop in loops]

    async def stop(self):
        tasks = [task for task in (*self.tasks, self.filler) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(self.layer.group_discard(GROUP_ALL, self.channel), LAYER_TIMEOUT_S)
        except Exception as error:  # the membership expires; a doorbell to a gone channel is dropped
            log.warning("the hub could not leave its group: %r", error)

    async def join(self, consumer):
        if self.ready is None or self.failed_to_start():
            self.ready = asyncio.ensure_future(self.start())
        self.joining += 1
        try:
            await asyncio.shield(self.ready)
        finally:
            self.joining -= 1
        self.streams.setdefault(consumer.scope_id, set()).add(consumer)

    def failed_to_start(self):
        """Tell whether start failed (the database was down, say), so the next join tries again."""
        return self.ready.done() and not self.ready.cancelled() and self.ready.exception() is not None

    def leave(self, consumer):
        """Forget a stream; return True when no stream is left."""
        members = self.streams.get(consumer.scope_id)
        if members is not None:
            members.discard(consumer)
            if not members:
                del self.streams[consumer.scope_id]
        return not self.streams and not self.joining

    async def listen(self):
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception as error:  # the layer is down: the poll delivers meanwhile
                self.layer_failed(error)
                self.rejoin.set()  # whatever Redis lost, the group must hold this hub again
                await asyncio.sleep(RETRY_S)
                continue
            await self.take([Item(e["seq"], e["audience"], e["event"]) for e in message.get("events", ())])

    async def keep_joined(self):
        """Re-join the group every REJOIN_S, at once after a layer error, every RETRY_S while it fails."""
        while True:
            try:
                await asyncio.wait_for(self.rejoin.wait(), REJOIN_S if self.layer_ok else RETRY_S)
            except asyncio.TimeoutError:
                pass
            self.rejoin.clear()
            await self.join_group()

    async def join_group(self):
        """Add the hub to its group (idempotent); after an outage, read what the doorbell missed."""
        try:
            await asyncio.wait_for(self.layer.group_add(GROUP_ALL, self.channel), LAYER_TIMEOUT_S)
        except Exception as error:
            return self.layer_failed(error)
        recovered, self.layer_ok = self.layer_ok is False, True
        if recovered:
            log.warning("the channel layer is back; the hub re-joined its group")
            await self.read_log()  # the doorbells rung before the re-join reached no one

    def layer_failed(self, error):
        """Note that the layer failed; log only the first failure of an outage."""
        if self.layer_ok is not False:
            log.warning("the channel layer failed (%r); reading the log every %s s", error, OUTAGE_POLL_S)
        self.layer_ok = False

    async def poll(self):
        """Read the log every POLL_S, or every OUTAGE_POLL_S while the layer fails."""
        read_at = 0.0
        while True:
            await asyncio.sleep(OUTAGE_POLL_S)
            if self.layer_ok and time.monotonic() - read_at < POLL_S:
                continue
            read_at = time.monotonic()
            await self.read_log()

    async def note_database(self, ok):
        """Tell every stream of the process when the database goes away or comes back."""
        if ok == self.database_ok:
            return
        self.database_ok = ok
        for consumer in [c for members in self.streams.values() for c in members]:
            try:
                await consumer.database_changed(ok)
            except Exception:  # one closing socket must not keep the news from the others
                log.exception("could not tell a stream about the database")

    async def record_beats(self):
        """Write the quiet heartbeats of the last second in one statement."""
        while True:
            await asyncio.sleep(BEATS_S)
            beats, self.beats = self.beats, {}
            if beats:
                try:
                    await on_stream_thread(services.terminals_beat)(beats=beats)
                except Exception:
                    log.exception("could not record %d heartbeats", len(beats))

    async def take(self, items):
        """Send what the doorbell brought, in seq order; wait a moment for a gap to close."""
        async with self.lock:
            for item in items:
                if item.seq > self.last_seq:
                    self.held[item.seq] = item
            await self.send_ready()
        if self.held and self.filler is None:
            self.filler = asyncio.create_task(self.fill_after(GAP_WAIT_S))

    async def fill_after(self, delay):
        await asyncio.sleep(delay)
        self.filler = None
        await self.read_log()

    async def read_log(self):
        """Read the log; tell the streams when the database goes away or comes back."""
        try:
            await self.fill()
        except DATABASE_DOWN as problem:
            log.warning("the hub could not read the log: %s", problem)
            await self.note_database(False)
        except Exception:
            log.exception("the hub could not read the log")
        else:
            self.polled_at = time.monotonic()
            await self.note_database(True)

    async def fill(self):
        """Read from the log the events no doorbell has brought (up to the first held one)."""
        async with self.lock:
            first = min(self.held, default=None)
            if first != self.last_seq + 1:
                for row in await on_stream_thread(stream.log_items)(self.last_seq, before=first):
                    self.held.setdefault(row[0], Item(*row))
            await self.send_ready()

    async def send_ready(self):
        while self.last_seq + 1 in self.held:
            item = self.held.pop(self.last_seq + 1)
            self.last_seq = item.seq
            await self.hand_out(item)

    async def hand_out(self, item):
        for scope in (None, *item.audience):
            for consumer in list(self.streams.get(scope, ())):
                try:
                    await consumer.offer(item)
                except Exception:  # one closing socket must not stop the others' events
                    log.exception("could not offer event %s to a stream", item.seq)


_hubs = {}  # event loop → Hub: a process has one loop under Daphne; tests make several


async def hub_join(consumer):
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    await hub.join(consumer)


async def hub_database_down():
    """Report a stream's failed database call: every stream hears of it; the next good poll clears it."""
    hub = _hubs.get(asyncio.get_running_loop())
    if hub is not None:
        await hub.note_database(False)


def hub_progress():
    """Return (streams, last seq handed out, seconds since the log was last read) for each hub of the process.

    Called from the health check's thread: it only reads attributes the event loop writes.
    """
    now = time.monotonic()
    hubs = list(_hubs.values())
    return [(sum(map(len, list(hub.streams.values()))), hub.last_seq, now - hub.polled_at) for hub in hubs]


def hub_beat(channel_name, page_visible):
    """Note a heartbeat that changes no presence, for the hub's next batch."""
    _hubs[asyncio.get_running_loop()].beats[channel_name] = page_visible


async def hub_leave(consumer):
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None and hub.leave(consumer):
        del _hubs[loop]
        if hub.ready is not None and hub.ready.done() and not hub.ready.exception():
            await hub.stop()
