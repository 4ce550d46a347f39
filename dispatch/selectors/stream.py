"""Reads for the event stream: the snapshot of open work and the log after a seq, per scope.

A scope is None (dispatchers and leaders: everything) or a sub-center id (an operator).
"""

from django.db import connection, transaction

from dispatch import sql
from dispatch.lifecycle import OPEN
from dispatch.models import Event, EventHead, Incident, IncidentStatus, Ticket
from dispatch.representations import event_data, incident_data, ticket_data


def head_seq():
    """Return the event log's head: the seq of the last committed event (one query).

    A REST answer carries it (docs/PROTOCOL.md, "seq on REST answers"): read after a write's
    commit, or before a read's rows, so the answer is at least as new as every event up to it.
    """
    return EventHead.objects.values_list("seq", flat=True).get(pk=1)


def snapshot(scope):
    """Return (seq, incidents, tickets): the open work in scope, exactly as of seq."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql.READ_ONLY_SNAPSHOT)
        seq = head_seq()
        tickets = Ticket.objects.filter(status__in=OPEN).select_related(
            "subcenter", "delivered_by", "accepted_by", "confirmed_by"
        )
        incidents = Incident.objects.exclude(status=IncidentStatus.CLOSED).select_related("category")
        if scope is not None:
            tickets = tickets.filter(subcenter_id=scope)
            incidents = incidents.filter(tickets__subcenter_id=scope).distinct()
        return seq, [incident_data(i) for i in incidents], [ticket_data(t) for t in tickets]


def _log(after, before=None):
    events = Event.objects.filter(seq__gt=after).order_by("seq")
    return events if before is None else events.filter(seq__lt=before)


def events_after(scope, after):
    """Return the events in scope with seq > after, in seq order, as wire dicts."""
    events = _log(after)
    if scope is not None:
        events = events.filter(audience__contains=[scope])
    return [event_data(e) for e in events]


def log_items(after, *, before=None):
    """Return (seq, audience, wire dict) of every event with after < seq (< before), in seq order."""
    return [(e.seq, e.audience, event_data(e)) for e in _log(after, before)]


def snapshot_state(seq, incidents, tickets):
    """Return a snapshot as the state a client keeps: {"seq", "incidents": {id: …}, "tickets": {id: …}}."""
    return {"seq": seq, "incidents": {i["id"]: i for i in incidents}, "tickets": {t["id"]: t for t in tickets}}


def snapshot_apply(state, event):
    """Apply one stream event to a client's state, as every screen does (docs/PROTOCOL.md, "Keeping state").

    An event carries the whole ticket and/or incident it changed: a ticket stays while it is
    open, an incident until it is closed. `incident.merged` also carries the original (`into`):
    it replaces the one held, but adds none (an operator holds only incidents with their
    tickets, and the original may have none of theirs). A checklist tick (ticket.checked)
    carries the ticket with its checklist_done, so it is applied like any other ticket event.
    Events of other things (presence) change nothing.
    """
    payload = event["payload"]
    ticket, incident, into = payload.get("ticket"), payload.get("incident"), payload.get("into")
    if ticket is not None:
        _keep(state["tickets"], ticket, ticket["status"] in OPEN)
    if incident is not None:
        _keep(state["incidents"], incident, incident["status"] != IncidentStatus.CLOSED)
    if into is not None and into["id"] in state["incidents"]:
        _keep(state["incidents"], into, into["status"] != IncidentStatus.CLOSED)
    state["seq"] = max(state["seq"], event["seq"])
    return state


def _keep(things, thing, live):
    if live:
        things[thing["id"]] = thing
    else:
        things.pop(thing["id"], None)
