"""Writes of incidents (事件): report (store, route, issue tickets), assign by hand, close."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch import lifecycle
from dispatch.drafts import incident_event, ticket_event
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.events import events_append
from dispatch.models import Incident, Ticket
from dispatch.models import TicketStatus as S
from dispatch.plans import category_by_code, plan_for
from dispatch.publisher import publish_on_commit
from dispatch.representations import TICKET_ACTORS
from dispatch.roles import user_role
from dispatch.selectors.presence import subcenter_terminal_health
from dispatch.services.escalation import ticket_escalate_now
from dispatch.services.tickets import incident_follow_tickets, ticket_new
from dispatch.services.users import ERR_UNKNOWN_SUBCENTER
from dispatch.sql import SUBCENTER_PART, row_partial
from geo.models import SubCenter
from geo.router import route_point
from geo.selectors import reverse_lookup

ERR_IDEMPOTENCY_REUSED = "this Idempotency-Key was used for a different request"
ERR_INCIDENT_NOT_FOUND = "no incident {id}"
ERR_INCIDENT_CLOSED = "incident {id} is closed"
ERR_INCIDENT_OPEN_TICKETS = "incident {id} still has open tickets: {tickets}"
ERR_ALREADY_ASSIGNED = "sub-center {code} already has a live ticket for this incident"
ERR_NO_LIVE_TERMINAL = "no live terminal at the sub-center"


@dataclass(frozen=True)
class Report:
    """What a report did: the incident, its tickets as they are now, and whether it was created."""

    incident: Incident
    tickets: list[Ticket]
    created: bool


def request_digest(fields):
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def incident_report(
    *, actor, category: str, severity: int, lon: float, lat: float, title: str, description: str = "",
    address: str = "", reporter_name: str = "", reporter_phone: str = "", occurred_at=None,
    source: str = Incident.Source.API, idempotency_key: str | None = None,
) -> Report:
    """Store an incident, route it, issue its tickets, all in one transaction.

    A repeated Idempotency-Key returns the first incident and creates nothing.
    """
    fields = {
        "category": category, "severity": severity, "lon": lon, "lat": lat, "title": title,
        "description": description, "address": address, "reporter_name": reporter_name,
        "reporter_phone": reporter_phone, "occurred_at": occurred_at,
    }
    digest = request_digest(fields)
    lifecycle.check_role(user_role(actor), "report")
    if idempotency_key:
        existing = _reported_under(actor, idempotency_key, digest)
        if existing:
            return existing
    try:
        with transaction.atomic():
            return _incident_create(actor, fields, source, idempotency_key, digest)
    except IntegrityError:
        existing = idempotency_key and _reported_under(actor, idempotency_key, digest)
        if not existing:
            raise
        return existing  # a concurrent retry with the same key won the race


def _reported_under(actor, key, digest):
    """Return the report this client already made under this key (keys are per client), or None."""
    incident = Incident.objects.filter(reported_by=actor, idempotency_key=key).select_related("category", "plan").first()
    if incident is None:
        return None
    if incident.request_digest != digest:
        raise Conflict(ERR_IDEMPOTENCY_REUSED, field="idempotency_key")
    tickets = Ticket.objects.filter(incident=incident).select_related("subcenter", *TICKET_ACTORS).order_by("id")
    return Report(incident=incident, tickets=list(tickets), created=False)


def _validate_report(fields):
    errors = {}
    if not (-180 <= fields["lon"] <= 180) or not (-90 <= fields["lat"] <= 90):
        errors["location"] = ["coordinates must be lon -180..180 and lat -90..90"]
    if fields["severity"] not in (1, 2, 3, 4):
        errors["severity"] = ["severity must be 1, 2, 3 or 4 (I–IV)"]
    if not (fields["title"] or "").strip():
        errors["title"] = ["a title is required"]
    category = category_by_code(fields["category"])
    if category is None:
        errors["category"] = [f"unknown category {fields['category']!r}"]
    if errors:
        raise Invalid.fields(errors)
    return category


def _incident_create(actor, fields, source, idempotency_key, digest):
    category = _validate_report(fields)
    plan = plan_for(category=category, severity=fields["severity"])
    kinds = [kind.code for kind in plan.kinds.all()] if plan else []
    routes = route_point(lon=fields["lon"], lat=fields["lat"], kinds=kinds) if kinds else {}
    owned = [r for r in routes.values() if r.has_owner]
    now = timezone.now()
    occurred_at = fields["occurred_at"]
    incident = Incident.objects.create(
        location=Point(fields["lon"], fields["lat"], srid=4326), category=category,
        severity=fields["severity"], title=fields["title"].strip(), description=fields["description"],
        address=fields["address"], reporter_name=fields["reporter_name"],
        reporter_phone=fields["reporter_phone"], occurred_at=occurred_at and occurred_at.astimezone(UTC),
        reported_at=now, reported_by=actor, source=source, plan=plan,
        status=lifecycle.incident_status(closed=False, statuses=[S.ISSUED for _ in owned]),
        routing=[r.as_dict() for r in routes.values()],
        place=reverse_lookup(lon=fields["lon"], lat=fields["lat"]),
        unassigned_kinds=[kind for kind, r in routes.items() if not r.has_owner],
        idempotency_key=idempotency_key or None, request_digest=digest,
    )
    tickets = Ticket.objects.bulk_create([
        ticket_new(incident=incident, subcenter=_routed_to(r), routing=r.as_dict(), actor=actor, now=now) for r in owned
    ])
    health = subcenter_terminal_health([t.subcenter_id for t in tickets])
    audience = [t.subcenter_id for t in tickets]
    drafts = [incident_event("incident.reported", incident, actor, audience)]
    drafts += [ticket_event("ticket.issued", t, actor, incident=incident) for t in tickets]
    if not tickets or incident.unassigned_kinds:
        why = "no response plan for this category" if not plan else "no owner found for some kinds"
        drafts.append(incident_event("incident.triage", incident, actor, audience, reason=why))
    publish_on_commit(events_append(drafts))
    return Report(incident=incident, tickets=_escalate_unattended(tickets, health), created=True)


def _routed_to(routing):
    """Return the sub-center a routing names, with the fields a ticket shows (others load on access)."""
    values = (routing.subcenter_id, routing.subcenter_code, routing.subcenter_name, routing.kind)
    return row_partial(SubCenter, dict(zip(SUBCENTER_PART, values)))


def _escalate_unattended(tickets, health):
    """Page the duty phone at once for tickets whose sub-center has no live terminal.

    Return the tickets as they are now (an escalated one comes back changed).
    """
    return [
        ticket_escalate_now(ticket_id=t.id, reason=ERR_NO_LIVE_TERMINAL)[0] if health[t.subcenter_id]["online"] == 0 else t
        for t in tickets
    ]


def _lock_incident(incident_id):
    incident = Incident.objects.select_for_update(of=("self",)).select_related("category", "plan").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(ERR_INCIDENT_NOT_FOUND.format(id=incident_id))
    return incident


@transaction.atomic
def incident_assign(*, actor, incident_id: int, subcenter_code: str, note: str = "") -> Ticket:
    """Assign a sub-center by hand (from triage, or after a rejection); return the new ticket."""
    lifecycle.check_role(user_role(actor), "assign")
    incident = _lock_incident(incident_id)
    if incident.closed_at:
        raise Conflict(ERR_INCIDENT_CLOSED.format(id=incident.id), field="status", status=incident.status)
    subcenter = SubCenter.objects.filter(code=subcenter_code, active=True).first()
    if subcenter is None:
        raise Invalid(ERR_UNKNOWN_SUBCENTER.format(code=subcenter_code), field="subcenter")
    if incident.tickets.filter(subcenter=subcenter).exclude(status__in=[S.REJECTED, S.CANCELLED]).exists():
        raise Conflict(ERR_ALREADY_ASSIGNED.format(code=subcenter.code), field="subcenter")
    routing = {"kind": subcenter.kind_id, "rule": "manual", "assigned_by": actor.username, "note": note}
    ticket = ticket_new(incident=incident, subcenter=subcenter, routing=routing, actor=actor, now=timezone.now())
    ticket.save()
    changed, updates = incident_follow_tickets(incident_id=incident.id, actor=actor, drop_unassigned=subcenter.kind_id)
    health = subcenter_terminal_health([subcenter.id])
    drafts = [ticket_event("ticket.issued", ticket, actor, incident=changed or incident), *updates]
    publish_on_commit(events_append(drafts))
    return _escalate_unattended([ticket], health)[0]


@transaction.atomic
def incident_close(*, actor, incident_id: int, reason: str = "") -> Incident:
    """Close an incident once every ticket is closed, rejected or cancelled."""
    lifecycle.check_role(user_role(actor), "close_incident")
    # Tickets first, then the incident: the order every ticket service takes them in.
    tickets = list(Ticket.objects.select_for_update().filter(incident_id=incident_id).order_by("id"))
    incident = _lock_incident(incident_id)
    if incident.closed_at:
        return incident
    still_open = [t.id for t in tickets if t.status in lifecycle.OPEN]
    if still_open:
        raise Conflict(
            ERR_INCIDENT_OPEN_TICKETS.format(id=incident.id, tickets=", ".join(map(str, still_open))),
            field="status", status=incident.status,
        )
    incident.closed_at, incident.closed_by = timezone.now(), actor
    incident.status = lifecycle.incident_status(closed=True, statuses=[t.status for t in tickets])
    incident.save(update_fields=["closed_at", "closed_by", "status"])
    event = incident_event("incident.closed", incident, actor, [t.subcenter_id for t in tickets], reason=reason)
    publish_on_commit(events_append([event]))
    return incident
