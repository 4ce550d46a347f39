"""Writes of incidents (事件): report (store, route, issue tickets), assign by hand, edit, severity, close."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from dispatch import lifecycle
from dispatch.drafts import incident_event, ticket_event
from dispatch.errors import Conflict, Invalid, NotFound, need_reason
from dispatch.events import events_append
from dispatch.models import Call, Incident, Ticket
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

ERR_IDEMPOTENCY_REUSED = gettext_lazy("this Idempotency-Key was used for a different request")
ERR_INCIDENT_NOT_FOUND = gettext_lazy("no incident {id}")
ERR_INCIDENT_CLOSED = gettext_lazy("incident {id} is closed")
ERR_INCIDENT_OPEN_TICKETS = gettext_lazy("incident {id} still has open tickets: {tickets}")
ERR_ALREADY_ASSIGNED = gettext_lazy("sub-center {code} already has a live ticket for this incident")
ERR_NO_LIVE_TERMINAL = "no live terminal at the sub-center"  # a reason written into the log, not a message
ERR_NO_PLAN = gettext_lazy("no response plan for this category")
ERR_OUTCOME = gettext_lazy("an outcome of 1 to 2000 characters is required")
ERR_NOT_EDITABLE = gettext_lazy("not a field that can be edited")
ERR_TITLE_REQUIRED = gettext_lazy("a title is required")
ERR_TOO_LONG = gettext_lazy("at most {n} characters")
ERR_SEVERITY = gettext_lazy("severity must be 1, 2, 3 or 4 (I–IV)")
OPEN_TICKET_LINE = "#{id} {name}: {status}"
NOTE_LOWERED = gettext_lazy("a lower severity cancels no ticket: cancel by hand those the new plan no longer asks for")
OUTCOME_MAX = 2000
SEVERITIES = (1, 2, 3, 4)
EDITABLE = ("title", "address", "description", "reporter_name", "reporter_phone")
ERR_NO_OWNER = "no owner found for some kinds"  # a reason written into the log, not a message


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
        errors["severity"] = [ERR_SEVERITY]
    if not (fields["title"] or "").strip():
        errors["title"] = [ERR_TITLE_REQUIRED]
    category = category_by_code(fields["category"])
    if category is None:
        errors["category"] = [f"unknown category {fields['category']!r}"]
    if errors:
        raise Invalid.fields(errors)
    return category


def _incident_create(actor, fields, source, idempotency_key, digest):
    category = _validate_report(fields)
    plan = plan_for(category=category, severity=fields["severity"])
    routes = _route(fields["lon"], fields["lat"], [kind.code for kind in plan.kinds.all()] if plan else [])
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
    Call.objects.create(
        incident=incident, reporter_name=incident.reporter_name, reporter_phone=incident.reporter_phone,
        location=incident.location, received_at=now, received_by=actor,
    )
    tickets = _tickets_issue(incident, owned, actor, now)
    health = subcenter_terminal_health([t.subcenter_id for t in tickets])
    audience = [t.subcenter_id for t in tickets]
    drafts = [incident_event("incident.reported", incident, actor, audience)]
    drafts += [ticket_event("ticket.issued", t, actor, incident=incident) for t in tickets]
    if not tickets or incident.unassigned_kinds:
        why = ERR_NO_PLAN if not plan else ERR_NO_OWNER
        drafts.append(incident_event("incident.triage", incident, actor, audience, reason=why))
    publish_on_commit(events_append(drafts))
    return Report(incident=incident, tickets=_escalate_unattended(tickets, health), created=True)


def _route(lon, lat, kinds):
    """Return {kind: Routing}: who owns each kind at the point (geo.router, one PostGIS query)."""
    return route_point(lon=lon, lat=lat, kinds=kinds) if kinds else {}


def _tickets_issue(incident, routes, actor, now):
    """Insert one ticket per owned routing, in one statement; return them."""
    return Ticket.objects.bulk_create([
        ticket_new(incident=incident, subcenter=_routed_to(r), routing=r.as_dict(), actor=actor, now=now) for r in routes
    ])


def _routed_to(routing):
    """Return the sub-center a routing names, with the fields a ticket shows (others load on access)."""
    values = {
        "id": routing.subcenter_id, "code": routing.subcenter_code, "name": routing.subcenter_name,
        "name_en": routing.subcenter_name_en, "kind_id": routing.kind, "duty_phone": routing.subcenter_duty_phone,
    }
    return row_partial(SubCenter, {name: values[name] for name in SUBCENTER_PART})


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
def incident_close(*, actor, incident_id: int, outcome: str, reason: str = "") -> Incident:
    """Close an incident with its outcome once every ticket is closed, rejected or cancelled."""
    lifecycle.check_role(user_role(actor), "close_incident")
    outcome = _need_outcome(outcome)
    # Tickets first, then the incident: the order every ticket service takes them in.
    tickets = list(
        Ticket.objects.select_for_update(of=("self",)).select_related("subcenter").filter(incident_id=incident_id).order_by("id")
    )
    incident = _lock_incident(incident_id)
    if incident.closed_at:
        return incident
    still_open = [t for t in tickets if t.status in lifecycle.OPEN]
    if still_open:
        error = Conflict(
            ERR_INCIDENT_OPEN_TICKETS.format(id=incident.id, tickets=", ".join(str(t.id) for t in still_open)),
            field="tickets", status=incident.status,
        )
        error.errors = {"tickets": [OPEN_TICKET_LINE.format(id=t.id, name=t.subcenter.name, status=t.status) for t in still_open]}
        raise error
    incident.closed_at, incident.closed_by, incident.outcome = timezone.now(), actor, outcome
    incident.status = lifecycle.incident_status(closed=True, statuses=[t.status for t in tickets])
    incident.save(update_fields=["closed_at", "closed_by", "outcome", "status"])
    event = incident_event("incident.closed", incident, actor, [t.subcenter_id for t in tickets], reason=reason)
    publish_on_commit(events_append([event]))
    return incident


def _need_outcome(outcome):
    outcome = (outcome or "").strip()
    if not outcome or len(outcome) > OUTCOME_MAX:
        raise Invalid(ERR_OUTCOME, field="outcome")
    return outcome


def lock_open_incident(incident_id):
    """Return the incident locked for update, or raise NotFound, or Conflict when it is closed."""
    incident = _lock_incident(incident_id)
    if incident.closed_at:
        raise Conflict(ERR_INCIDENT_CLOSED.format(id=incident.id), field="status", status=incident.status)
    return incident


def incident_audience(incident_ids):
    """Return the sub-centers holding a ticket (of any status) of these incidents: who sees their events."""
    return list(Ticket.objects.filter(incident_id__in=incident_ids).values_list("subcenter_id", flat=True).distinct())


@transaction.atomic
def incident_edit(*, actor, incident_id: int, fields: dict[str, str]) -> Incident:
    """Correct what the call taker wrote (title, address, description, caller); a closed incident is refused."""
    lifecycle.check_role(user_role(actor), "edit_incident")
    fields = _editable(fields)
    incident = lock_open_incident(incident_id)
    changes = {name: [getattr(incident, name), value] for name, value in fields.items() if getattr(incident, name) != value}
    if not changes:
        return incident
    for name, (_, value) in changes.items():
        setattr(incident, name, value)
    incident.save(update_fields=list(changes))
    event = incident_event("incident.updated", incident, actor, incident_audience([incident.id]), changes=changes)
    publish_on_commit(events_append([event]))
    return incident


def _editable(fields):
    """Return the fields, stripped; raise Invalid naming each unknown, blank title or too long field."""
    errors, clean = {}, {}
    for name, value in fields.items():
        if name not in EDITABLE:
            errors[name] = [ERR_NOT_EDITABLE]
            continue
        value = (value or "").strip()
        if len(value) > (Incident._meta.get_field(name).max_length or len(value)):
            errors[name] = [ERR_TOO_LONG.format(n=Incident._meta.get_field(name).max_length)]
        elif name == "title" and not value:
            errors[name] = [ERR_TITLE_REQUIRED]
        clean[name] = value
    if errors:
        raise Invalid.fields(errors)
    return clean


@dataclass(frozen=True)
class SeverityChange:
    """What a change of severity did: the incident, the tickets it issued, and a note for the console."""

    incident: Incident
    tickets: list[Ticket]
    note: str


@transaction.atomic
def incident_set_severity(*, actor, incident_id: int, severity: int, reason: str) -> SeverityChange:
    """Raise or lower an incident's severity (平战结合).

    The plan of the new level applies. Raising issues a ticket, routed as at report, for each
    kind the plan asks for that has no live ticket (nor waits for a hand assignment); unowned
    kinds go to triage. Lowering issues and cancels nothing: the console cancels by hand.
    """
    lifecycle.check_role(user_role(actor), "edit_incident")
    reason = need_reason(reason)
    if severity not in SEVERITIES:
        raise Invalid(ERR_SEVERITY, field="severity")
    incident = lock_open_incident(incident_id)
    if severity == incident.severity:
        return SeverityChange(incident=incident, tickets=[], note="")
    tickets = list(Ticket.objects.filter(incident=incident).select_related("subcenter"))
    old_plan, raised = incident.plan, severity < incident.severity
    changes = {"severity": [incident.severity, severity]}
    incident.severity = severity
    incident.plan = plan_for(category=incident.category, severity=severity)
    changes["plan"] = [old_plan and old_plan.name, incident.plan and incident.plan.name]
    issued, unowned = _issue_missing(incident, tickets, actor) if raised else ([], [])
    incident.status = lifecycle.incident_status(closed=False, statuses=[t.status for t in tickets + issued])
    incident.save(update_fields=["severity", "plan", "status", "routing", "unassigned_kinds"])
    health = subcenter_terminal_health([t.subcenter_id for t in issued])
    audience = list({t.subcenter_id for t in tickets + issued})
    drafts = [incident_event("incident.updated", incident, actor, audience, changes=changes, reason=reason)]
    drafts += [ticket_event("ticket.issued", t, actor, incident=incident) for t in issued]
    if unowned:
        drafts.append(incident_event("incident.triage", incident, actor, audience, reason=ERR_NO_OWNER))
    publish_on_commit(events_append(drafts))
    note = "" if raised else NOTE_LOWERED
    return SeverityChange(incident=incident, tickets=_escalate_unattended(issued, health), note=note)


def _issue_missing(incident, tickets, actor):
    """Issue tickets for the kinds the incident's plan asks for that no live ticket covers.

    A kind already waiting for a hand assignment (rejected, or no owner) stays with the console.
    Return (the tickets issued, the kinds that found no owner).
    """
    covered = {t.subcenter.kind_id for t in tickets if t.status not in (S.REJECTED, S.CANCELLED)}
    wanted = [kind.code for kind in incident.plan.kinds.all()] if incident.plan else []
    missing = [k for k in wanted if k not in covered and k not in incident.unassigned_kinds]
    routes = _route(incident.location.x, incident.location.y, missing)
    unowned = [kind for kind, r in routes.items() if not r.has_owner]
    incident.unassigned_kinds = [*incident.unassigned_kinds, *unowned]
    routed = {r["kind"]: r for r in incident.routing}
    routed.update({kind: r.as_dict() for kind, r in routes.items()})
    incident.routing = list(routed.values())
    issued = _tickets_issue(incident, [r for r in routes.values() if r.has_owner], actor, timezone.now())
    return issued, unowned
