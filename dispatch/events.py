"""The append-only, hash-chained event log: append inside a service, verify from a command.

A service inserts its events without a number. When its transaction commits, a deferred
trigger in PostgreSQL (dispatch/sql/event_sequencer.sql) numbers them from the EventHead row and chains their
hashes: sequence numbers follow commit order, so a reader that has seen seq N never later
finds a committed event below N, and the head row is locked only for the commit itself,
never while a writer's Python code runs.

Chain: hash = SHA-256("<prev_hash>:<seq>:<body_hash>"), where body_hash is the SHA-256 of
the event's content, computed here when it is appended. The chain alone cannot catch an owner who
rewrites history and re-hashes it end to end: verify_chain also checks it against checkpoints of the
head signed outside the database (dispatch/services/checkpoints.py).
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from dispatch import sql
from dispatch.models import Event, EventHead

EVENT_NAMES = {
    "incident.reported", "incident.triage", "incident.updated", "incident.closed", "incident.call", "incident.merged",
    "ticket.issued", "ticket.delivered", "ticket.accepted", "ticket.rejected", "ticket.confirmed",
    "ticket.feedback", "ticket.resolved", "ticket.reopened", "ticket.closed", "ticket.cancelled",
    "ticket.checked", "ticket.overdue", "terminal.presence", "notice.failed",
}
GENESIS = "0" * 64


def body_digest(*, name, incident_id, ticket_id, audience, actor_id, payload, created_at):
    """Return the SHA-256 over an event's content."""
    content = json.dumps(
        [name, incident_id, ticket_id, sorted(audience), actor_id, payload, created_at.isoformat()],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()


def link_digest(*, prev_hash, seq, body_hash):
    """Return an event's hash: its content's digest chained to its seq and the previous hash.

    The commit-time trigger computes the same in SQL (dispatch/sql/event_sequencer.sql).
    """
    return hashlib.sha256(f"{prev_hash}:{seq}:{body_hash}".encode()).hexdigest()


def events_append(drafts):
    """Append events in order inside the caller's transaction; they are numbered when it commits.

    Each draft is a dict with name, incident, ticket, audience, actor, payload. Return the
    events, without their seq until events_numbered() reads it after the commit.
    """
    assert transaction.get_connection().in_atomic_block, "events are appended inside a service's transaction"
    now = timezone.now()
    events = [_event_new(draft, now) for draft in drafts]
    with connection.cursor() as cursor:
        cursor.execute(sql.APPEND_EVENTS.format(rows=", ".join([sql.APPEND_EVENT_ROW] * len(events))), [
            value for event in events for value in _row(event)
        ])
        # Rows come back in the order of VALUES for a plain INSERT.
        for event, (pk,) in zip(events, cursor.fetchall()):
            event.pk = pk
            event._state.adding = False
    return events


def events_numbered(events):
    """Fill in the seqs the commit gave these events; return them in seq order."""
    by_id = {event.pk: event for event in events}
    with connection.cursor() as cursor:
        cursor.execute(sql.SEQS_OF_EVENTS, [list(by_id)])
        for pk, seq in cursor.fetchall():
            by_id[pk].seq = seq
    return sorted(events, key=lambda event: event.seq or 0)


def _event_new(draft, now):
    assert draft["name"] in EVENT_NAMES, draft["name"]
    event = Event(
        name=draft["name"], incident=draft.get("incident"), ticket=draft.get("ticket"),
        audience=sorted(set(draft.get("audience") or [])), actor=draft.get("actor"),
        payload=json.loads(json.dumps(draft.get("payload") or {}, default=str)), created_at=now,
    )
    event.body_hash = body_digest(**_content(event))
    return event


def _row(event):
    return (
        event.name, event.incident_id, event.ticket_id, event.audience, event.actor_id, Jsonb(event.payload),
        event.created_at, event.body_hash,
    )


def _content(event):
    return {
        "name": event.name, "incident_id": event.incident_id, "ticket_id": event.ticket_id,
        "audience": event.audience, "actor_id": event.actor_id, "payload": event.payload,
        "created_at": event.created_at,
    }


@dataclass(frozen=True)
class Broken:
    """The first broken link: where it is (a seq and what stands there, a checkpoint, a file's line) and why."""

    where: str
    why: str


ERR_PREV_HASH = "its prev_hash does not match the hash of the event before it"
ERR_EDITED = "its content does not match its hash (edited after it was written)"
ERR_GAP = "sequence gap: event {seq} is missing"
ERR_REHASHED = (
    "its hash differs from the checkpoint signed at {signed_at} (key {key_id}): "
    "the log between seq {first} and {seq} was rewritten and re-hashed"
)
ERR_TAIL_SIGNED = (
    "the log ends at seq {last}, but seq {seq} was signed at {signed_at} (key {key_id}): "
    "events {first}..{seq} were deleted"
)
ERR_TAIL_HEAD = "the log ends at seq {last}, but the event head is at seq {head}: events {first}..{head} were deleted"


def verify_chain(batch=5000, checkpoints=None):
    """Walk the log in seq order against the signed checkpoints (by seq); return (events checked, first Broken or None).

    A checkpoint's seq beyond the log's end, or an event head beyond it, means the tail was deleted.
    """
    checkpoints = checkpoints or {}
    head = EventHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0  # read first: it only grows
    previous, checked, last_seq, signed_before = GENESIS, 0, 0, 0
    while events := list(Event.objects.filter(seq__gt=last_seq).order_by("seq")[:batch]):
        for event in events:
            signed = checkpoints.get(event.seq)
            why = _link_fault(event, previous, last_seq) or (signed and _signed_fault(event, signed, signed_before))
            if why:
                return checked, Broken(f"seq {event.seq} ({event.name})", why)
            previous, last_seq, checked = event.hash, event.seq, checked + 1
            signed_before = event.seq if signed else signed_before
    return checked, _tail_fault(last_seq, head, checkpoints)


def _link_fault(event, previous, last_seq):
    if event.prev_hash != previous:
        return ERR_PREV_HASH
    if link_digest(prev_hash=event.prev_hash, seq=event.seq, body_hash=body_digest(**_content(event))) != event.hash:
        return ERR_EDITED
    if event.seq != last_seq + 1:
        return ERR_GAP.format(seq=last_seq + 1)
    return None


def _signed_fault(event, signed, signed_before):
    if signed["hash"] == event.hash:
        return None
    return ERR_REHASHED.format(
        signed_at=signed["signed_at"], key_id=signed["key_id"], first=signed_before + 1, seq=event.seq
    )


def _tail_fault(last_seq, head, checkpoints):
    last_signed = max(checkpoints, default=0)
    if last_signed > last_seq:
        signed = checkpoints[last_signed]
        why = ERR_TAIL_SIGNED.format(
            last=last_seq, seq=last_signed, signed_at=signed["signed_at"], key_id=signed["key_id"], first=last_seq + 1
        )
        return Broken(f"seq {last_seq + 1} (deleted)", why)
    if head > last_seq:
        why = ERR_TAIL_HEAD.format(last=last_seq, head=head, first=last_seq + 1)
        return Broken(f"seq {last_seq + 1} (deleted)", why)
    return None
