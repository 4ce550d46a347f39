"""The stream's frames, one class each; unknown fields and wrong types are refused.

Protocol version 1. Server → client: hello, snapshot, event, resync_required, result,
degraded, pong, error. Client → server: delivered, accept, reject, feedback, check, heartbeat, ping.
"""

from dataclasses import MISSING, dataclass, fields

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024
DATABASE_DOWN_DETAIL = "database unavailable (数据库不可用): actions are refused; events resume when it is back"


class FrameError(ValueError):
    """A client frame that cannot be taken; `field` names what is wrong."""

    def __init__(self, message, field="frame"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Delivered:
    ticket: int
    ref: str = ""


@dataclass(frozen=True)
class Accept:
    ticket: int
    ref: str = ""


@dataclass(frozen=True)
class Reject:
    ticket: int
    reason: str
    ref: str = ""


@dataclass(frozen=True)
class Feedback:
    ticket: int
    text: str
    final: bool = False
    ref: str = ""


@dataclass(frozen=True)
class Check:
    ticket: int
    item: int
    done: bool
    ref: str = ""


@dataclass(frozen=True)
class Heartbeat:
    audio_armed: bool
    page_visible: bool
    ref: str = ""


@dataclass(frozen=True)
class Ping:
    ref: str = ""


CLIENT_FRAMES = {
    "delivered": Delivered, "accept": Accept, "reject": Reject, "feedback": Feedback, "check": Check,
    "heartbeat": Heartbeat, "ping": Ping,
}

_TYPES = {int: "a whole number", str: "a string", bool: "true or false"}


def parse_client_frame(data):
    """Return the typed frame for a decoded JSON object, or raise FrameError naming the problem."""
    if not isinstance(data, dict):
        raise FrameError("a frame is a JSON object")
    kind = data.get("type")
    frame_class = CLIENT_FRAMES.get(kind)
    if frame_class is None:
        raise FrameError(f"unknown frame type {kind!r}; one of: {', '.join(CLIENT_FRAMES)}", "type")
    spec = {f.name: f for f in fields(frame_class)}
    unknown = sorted(set(data) - set(spec) - {"type"})
    if unknown:
        raise FrameError(f"unknown field(s) for {kind}: {', '.join(unknown)}", unknown[0])
    values = {}
    for name, field in spec.items():
        if name not in data:
            if field.default is MISSING:
                raise FrameError(f"{kind} needs {name!r}", name)
            continue
        value = data[name]
        if type(value) is not field.type:  # bool is not an int here, and vice versa
            raise FrameError(f"{name!r} must be {_TYPES[field.type]}", name)
        values[name] = value
    return frame_class(**values)


def hello(*, seq, user, heartbeat_s):
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "seq": seq, "user": user, "heartbeat_s": heartbeat_s}


def snapshot(*, seq, incidents, tickets):
    return {"type": "snapshot", "seq": seq, "incidents": incidents, "tickets": tickets}


def event(data):
    return {"type": "event", **data}


def resync_required(*, since, seq, reason):
    return {"type": "resync_required", "since": since, "seq": seq, "reason": reason}


def result_ok(*, ref, **body):
    return {"type": "result", "ref": ref, "ok": True, **body}


def result_error(*, ref, errors, status=None):
    frame = {"type": "result", "ref": ref, "ok": False, "errors": errors}
    if status:
        frame["status"] = status
    return frame


def error(*, code, message, field=None):
    frame = {"type": "error", "code": code, "message": message}
    if field:
        frame["field"] = field
    return frame


def degraded(*, database):
    """Return the frame that tells a screen the database went away (False) or came back (True)."""
    frame = {"type": "degraded", "database": database}
    if not database:
        frame["detail"] = DATABASE_DOWN_DETAIL
    return frame


def pong(*, ref=""):
    return {"type": "pong", "ref": ref}
