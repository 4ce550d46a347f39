"""The one WebSocket stream: /ws/v1/stream?since=<seq>.

connect: authorize → join the process's hub → hello → snapshot → replay → live. Joining
before reading state loses nothing: whatever commits meanwhile is both in the replay and
handed over by the hub (held back until the replay is sent), and a seq already sent is
dropped. The hub (realtime.hub) takes the doorbell once per process, fills gaps from the log
and hands each stream the events its scope sees, in seq order.
"""

import json
import logging
import time
import uuid
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from dispatch import services
from dispatch.errors import DispatchError
from dispatch.i18n import language_of
from dispatch.roles import Role
from dispatch.selectors import stream
from dispatch.services import audit
from realtime import frames
from realtime.auth import LockedOut, origin_allowed, still_allowed, who
from realtime.hub import DATABASE_DOWN, encode, hub_beat, hub_database_down, hub_join, hub_leave
from realtime.threads import on_stream_thread

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_ABUSE = 4408
CLOSE_UNAVAILABLE = 4503  # the database could not be read to open the stream: reconnect later
ERR_DATABASE_DOWN = "database unavailable (数据库不可用); the action was not applied, send it again later"
CLOSE_LOCKED_OUT = 4429
AUDITED_REFUSALS = {CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN, CLOSE_LOCKED_OUT}  # the security audit records these
CREDENTIALS_RECHECK_S = 1.0  # a revoked token or a deactivated user is refused at its next frame after this
BAD_FRAMES_ALLOWED = 20  # within BAD_FRAME_WINDOW_S; then the connection is closed
BAD_FRAME_WINDOW_S = 60


ACTIONS = {
    frames.Delivered: lambda user, f: services.ticket_deliver(actor=user, ticket_id=f.ticket),
    frames.Accept: lambda user, f: services.ticket_accept(actor=user, ticket_id=f.ticket),
    frames.Reject: lambda user, f: services.ticket_reject(actor=user, ticket_id=f.ticket, reason=f.reason),
    frames.Check: lambda user, f: services.ticket_check(actor=user, ticket_id=f.ticket, item=f.item, done=f.done),
}


class StreamConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel of its own: the hub hands events over in process, and a stream
    # that listened on the layer was closed with 1011 whenever Redis went away.
    channel_layer_alias = None
    scope_id = None  # None: everything; else the operator's sub-center id
    last_seq = 0
    pending = None  # events the hub handed over before the replay was sent
    joined = False
    audio_armed = False  # as last recorded for this terminal (a new one starts unarmed)
    beat_at = 0.0
    checked_at = 0.0  # when the stream's credentials were last found still good

    async def connect(self):
        self.bad_frames = []
        self.channel_name = f"stream!{uuid.uuid4().hex}"  # unique everywhere: names the terminal's presence row
        await self.accept()
        if not origin_allowed(self.scope):
            return await self.refuse(CLOSE_FORBIDDEN, "origin", "cross-origin connection refused")
        try:
            await self.open()
        except DATABASE_DOWN as problem:
            log.warning("stream not opened, the database is unavailable: %s", problem)
            await self.send_json(frames.degraded(database=False))
            await self.close(code=CLOSE_UNAVAILABLE)

    async def open(self):
        """Authorize, join the hub, record presence, then hello, snapshot and replay."""
        try:
            self.user, role, subcenter_id = await on_stream_thread(who)(self.scope)
        except LockedOut as locked:
            return await self.refuse(CLOSE_LOCKED_OUT, "auth", str(locked))
        self.checked_at = time.monotonic()
        if self.user is None:
            return await self.refuse(CLOSE_UNAUTHENTICATED, "auth", "authentication required (session or token)")
        if role is None or (role == Role.OPERATOR and subcenter_id is None):
            return await self.refuse(CLOSE_FORBIDDEN, "role", "this user has no role on the stream")
        self.scope_id = subcenter_id if role == Role.OPERATOR else None
        self.pending = []
        await hub_join(self)
        self.joined = True
        if self.scope_id:
            await on_stream_thread(services.terminal_connect)(
                channel_name=self.channel_name, user=self.user, subcenter_id=self.scope_id
            )
            self.beat_at = time.monotonic()
        await self.start(role, self.since())

    async def refuse(self, code, field, message):
        await self.send_json(frames.error(code=code, message=message, field=field))
        await self.close(code=code, reason=message)
        if code in AUDITED_REFUSALS:  # after the close: the refused client never waits on the audit
            await on_stream_thread(audit.security_record)(
                kind=audit.STREAM_REFUSED, outcome=audit.DENIED, user=getattr(self, "user", None),
                address=str((self.scope.get("client") or [""])[0] or ""),
                detail={"code": code, "reason": message, "path": self.scope.get("path", "")},
            )

    def since(self):
        raw = parse_qs(self.scope.get("query_string", b"").decode()).get("since", [None])[0]
        try:
            return int(raw) if raw not in (None, "") else None
        except ValueError:
            return -1  # answered with resync_required, never a crash

    async def start(self, role, since):
        seq, incidents, tickets = await on_stream_thread(stream.snapshot)(self.scope_id)
        await self.send_json(frames.hello(seq=seq, user=self.identity(role), heartbeat_s=settings.HEARTBEAT_S))
        if since is not None and (since < 0 or since > seq or seq - since > settings.REPLAY_LIMIT):
            reason = "since is not a seq of this log" if since < 0 or since > seq else "since is too far behind"
            await self.send_json(frames.resync_required(since=since, seq=seq, reason=reason))
            since = None
        await self.send_json(frames.snapshot(seq=seq, incidents=incidents, tickets=tickets))
        self.last_seq = since if since is not None else seq
        await self.catch_up()

    def identity(self, role):
        return {"username": self.user.username, "role": role.value, "subcenter_id": self.scope_id}

    async def catch_up(self):
        """Send the events in scope after the last one sent, then what the hub held back."""
        for event in await on_stream_thread(stream.events_after)(self.scope_id, self.last_seq):
            if event["seq"] > self.last_seq:
                self.last_seq = event["seq"]
                await self.send_json(frames.event(event))
        while self.pending:
            held, self.pending = self.pending, []
            for item in held:
                await self.send_item(item)
        self.pending = None

    async def offer(self, item):
        """Take one event from the hub: hold it back during the replay, else send it."""
        if self.pending is not None:
            self.pending.append(item)
        else:
            await self.send_item(item)

    async def send_item(self, item):
        if item.seq > self.last_seq:
            self.last_seq = item.seq
            await self.send(text_data=item.text)

    async def disconnect(self, code):
        if self.joined:
            await hub_leave(self)
        if self.scope_id:
            try:
                await on_stream_thread(services.terminal_disconnect)(channel_name=self.channel_name)
            except DATABASE_DOWN:  # the worker forgets a silent terminal after TERMINAL_STALE_S
                log.warning("could not record that a terminal left: the database is unavailable")

    async def database_changed(self, ok):
        """Tell the screen the database went away or came back (from the hub)."""
        await self.send_json(frames.degraded(database=ok))

    async def receive(self, text_data=None, bytes_data=None):
        if not await self.credentials_hold():
            return await self.refuse(CLOSE_UNAUTHENTICATED, "auth", "the token was revoked or expired, or the account changed")
        try:
            frame = self.parse(text_data, bytes_data)
        except frames.FrameError as problem:
            await self.send_json(frames.error(code="bad_frame", message=str(problem), field=problem.field))
            return await self.count_bad_frame()
        await self.handle(frame)

    async def credentials_hold(self):
        """Tell whether the token or account still holds, asking the database at most once a second."""
        if getattr(self, "user", None) is None:
            return False
        now = time.monotonic()
        if now - self.checked_at < CREDENTIALS_RECHECK_S:
            return True
        self.checked_at = now
        try:
            return await on_stream_thread(still_allowed)(self.user)
        except DATABASE_DOWN:  # cannot ask now: keep the stream; any action is refused until it is back
            await hub_database_down()
            return True

    def parse(self, text_data, bytes_data):
        raw = text_data if text_data is not None else bytes_data
        if raw is None or len(raw) > frames.MAX_FRAME_BYTES:
            raise frames.FrameError(f"a frame is at most {frames.MAX_FRAME_BYTES} bytes")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise frames.FrameError("a frame is one JSON object") from None
        return frames.parse_client_frame(data)

    async def count_bad_frame(self):
        now = time.monotonic()
        self.bad_frames = [t for t in self.bad_frames if now - t < BAD_FRAME_WINDOW_S] + [now]
        if len(self.bad_frames) > BAD_FRAMES_ALLOWED:
            await self.refuse(CLOSE_ABUSE, "frame", "too many bad frames")

    async def handle(self, frame):
        if isinstance(frame, frames.Ping):
            return await self.send_json(frames.pong(ref=frame.ref))
        if isinstance(frame, frames.Heartbeat):
            if self.scope_id:
                await self.beat_or_note_outage(frame)
            return await self.send_json(frames.pong(ref=frame.ref))
        await self.send_json(await self.act_or_refuse(frame))

    async def act_or_refuse(self, frame):
        """Return the action's result frame; refuse it while the database is away, and say so."""
        try:
            return await on_stream_thread(self.act)(frame)
        except DATABASE_DOWN:
            await hub_database_down()
            return frames.result_error(ref=frame.ref, errors={"detail": [ERR_DATABASE_DOWN]})

    async def beat_or_note_outage(self, frame):
        """Record a heartbeat; while the database is away, keep the stream and tell the screens."""
        try:
            await self.beat(frame)
        except DATABASE_DOWN:
            await hub_database_down()

    async def beat(self, frame):
        """Record a heartbeat: at once when presence changes, else with the process's next batch."""
        now = time.monotonic()
        if frame.audio_armed == self.audio_armed and now - self.beat_at < settings.TERMINAL_STALE_S / 2:
            hub_beat(self.channel_name, frame.page_visible)
        else:
            await on_stream_thread(services.terminal_heartbeat)(
                channel_name=self.channel_name, audio_armed=frame.audio_armed, page_visible=frame.page_visible
            )
            self.audio_armed = frame.audio_armed
        self.beat_at = now

    def act(self, frame):
        """Call the one service a frame asks for, in the stream's language; return its result frame."""
        with translation.override(self.language()):
            return self.act_now(frame)

    def language(self):
        """Return the language of the connection's Accept-Language (zh-hans without one)."""
        headers = dict(self.scope.get("headers") or []) if getattr(self, "scope", None) else {}
        return language_of(headers.get(b"accept-language", b"").decode("latin-1"))

    def act_now(self, frame):
        try:
            if isinstance(frame, frames.Feedback):
                feedback, _ = services.ticket_feedback(
                    actor=self.user, ticket_id=frame.ticket, text=frame.text, final=frame.final
                )
                return frames.result_ok(ref=frame.ref, ticket_id=frame.ticket, feedback_id=feedback.id, changed=True)
            ticket, changed = ACTIONS[type(frame)](self.user, frame)
            return frames.result_ok(ref=frame.ref, ticket_id=ticket.id, status=ticket.status, changed=changed)
        except DispatchError as problem:
            return frames.result_error(ref=frame.ref, errors=problem.errors, status=problem.extra.get("status"))
        except DATABASE_DOWN:
            raise  # answered by act_or_refuse, which also tells the screens
        except Exception:  # one client's bad luck must not end its stream or anyone else's
            log.exception("stream action %r failed", frame)
            return frames.result_error(ref=frame.ref, errors={"detail": ["internal error; the action was not applied"]})

    async def send_json(self, content):
        await self.send(text_data=encode(content))
