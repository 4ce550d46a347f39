"""The append-only, hash-chained event log: append inside a service, verify from a command."""

import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone

from dispatch.models import Event, EventHead

EVENT_NAMES = {
    "incident.reported", "incident.triage", "incident.closed",
    "ticket.issued", "ticket.delivered", "ticket.accepted", "ticket.rejected", "ticket.confirmed",
    "ticket.feedback", "ticket.resolved", "ticket.reopened", "ticket.closed", "ticket.cancelled",
    "ticket.overdue", "terminal.presence",
}


def event_digest(*, seq, name, incident_id, ticket_id, audience, actor_id, payload, created_at, prev_hash):
    """Return the SHA-256 over an event's content and the previous event's hash."""
    content = json.dumps(
        [seq, name, incident_id, ticket_id, sorted(audience), actor_id, payload, created_at.isoformat(), prev_hash],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()


# Reserve the seqs and take the head's lock in one round trip.
RESERVE_SQL = "UPDATE dispatch_eventhead SET seq = seq + %s WHERE id = 1 RETURNING seq, last_hash"


def events_append(drafts):
    """Append events in order; must run inside the caller's transaction, as its last write.

    Each draft is a dict with name, incident, ticket, audience, actor, payload. Taking the head
    row's lock (held until commit) makes sequence numbers visible in commit order; appending
    last keeps that hold, which every writer waits on, to the append and the commit.
    """
    assert transaction.get_connection().in_atomic_block, "events are appended inside a service's transaction"
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_SQL, [len(drafts)])
        seq, prev_hash = cursor.fetchone()
    seq -= len(drafts)
    now = timezone.now()
    events = []
    for draft in drafts:
        assert draft["name"] in EVENT_NAMES, draft["name"]
        seq += 1
        event = Event(
            seq=seq, name=draft["name"], incident=draft.get("incident"), ticket=draft.get("ticket"),
            audience=sorted(set(draft.get("audience") or [])), actor=draft.get("actor"),
            payload=json.loads(json.dumps(draft.get("payload") or {}, default=str)),
            created_at=now, prev_hash=prev_hash,
        )
        event.hash = prev_hash = event_digest(**_content(event))
        events.append(event)
    Event.objects.bulk_create(events)
    EventHead.objects.filter(pk=1).update(last_hash=prev_hash)
    return events


def _content(event):
    return {
        "seq": event.seq, "name": event.name, "incident_id": event.incident_id, "ticket_id": event.ticket_id,
        "audience": event.audience, "actor_id": event.actor_id, "payload": event.payload,
        "created_at": event.created_at, "prev_hash": event.prev_hash,
    }


def verify_chain(batch=5000):
    """Walk the log in seq order; return (events checked, first broken event or None, why)."""
    previous = "0" * 64
    checked = 0
    last_seq = 0
    while True:
        events = list(Event.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not events:
            return checked, None, None
        for event in events:
            if event.prev_hash != previous:
                return checked, event, "its prev_hash does not match the hash of the event before it"
            if event_digest(**_content(event)) != event.hash:
                return checked, event, "its content does not match its hash (edited after it was written)"
            if event.seq != last_seq + 1:
                return checked, event, f"sequence gap: event {last_seq + 1} is missing"
            previous, last_seq = event.hash, event.seq
            checked += 1
