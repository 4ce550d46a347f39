"""Every write of the dispatch app: one function each, keyword-only, one transaction.

Each ticket service locks the ticket row, checks the action against the transitions
table (dispatch.lifecycle), writes its timestamps, sets the next deadline, appends its
events and rings the doorbell after commit.
"""

import hashlib
import json
import secrets
from datetime import UTC, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dispatch import lifecycle
from dispatch.drafts import incident_event, ticket_event
from dispatch.errors import ERR_TICKET_NOT_FOUND, Conflict, Invalid, NotFound, need_reason
from dispatch.escalation import ticket_escalate_now
from dispatch.events import events_append
from dispatch.models import Feedback, Incident, IncidentStatus, OperatorPost, Ticket
from dispatch.models import TicketStatus as S
from dispatch.plans import DEFAULT_DEADLINES, category_by_code, plan_for
from dispatch.presence import subcenter_terminal_health
from dispatch.publisher import publish_on_commit
from dispatch.representations import TICKET_ACTORS, feedback_data
from dispatch.roles import Role, operator_subcenter_id, user_role
from geo.models import SubCenter
from geo.router import route_point

ERR_UNKNOWN_ROLE = "unknown role {role!r}; one of: {roles}"
ERR_OPERATOR_NEEDS_SUBCENTER = "an operator needs --subcenter CODE"
ERR_SUBCENTER_ONLY_FOR_OPERATOR = "only an operator is bound to a sub-center"
ERR_UNKNOWN_SUBCENTER = "no sub-center with code {code!r}"
ERR_IDEMPOTENCY_REUSED = "this Idempotency-Key was used for a different request"
ERR_INCIDENT_NOT_FOUND = "no incident {id}"
ERR_INCIDENT_CLOSED = "incident {id} is closed"
ERR_INCIDENT_OPEN_TICKETS = "incident {id} still has open tickets: {tickets}"
ERR_ALREADY_ASSIGNED = "sub-center {code} already has a live ticket for this incident"

# What the deadline clock waits for after each status: (plan deadline key, counted from).
NEXT_DEADLINE = {
    S.ISSUED: ("deliver_s", "issued_at"),
    S.DELIVERED: ("accept_s", "delivered_at"),
    S.ACCEPTED: ("confirm_s", "accepted_at"),
    S.CONFIRMED: ("feedback_s", "confirmed_at"),
}


# ---- users ---------------------------------------------------------------------------


@transaction.atomic
def user_add(*, username: str, role: str, subcenter_code: str | None = None, password: str | None = None):
    """Create or update a user with one role; return (user, password)."""
    if role not in Role.values:
        raise ValueError(ERR_UNKNOWN_ROLE.format(role=role, roles=", ".join(Role.values)))
    subcenter = None
    if role == Role.OPERATOR:
        if not subcenter_code:
            raise ValueError(ERR_OPERATOR_NEEDS_SUBCENTER)
        subcenter = SubCenter.objects.filter(code=subcenter_code).first()
        if subcenter is None:
            raise ValueError(ERR_UNKNOWN_SUBCENTER.format(code=subcenter_code))
    elif subcenter_code:
        raise ValueError(ERR_SUBCENTER_ONLY_FOR_OPERATOR)
    password = password or secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
    user.__dict__.pop("_dispatch_role", None)
    OperatorPost.objects.filter(user=user).exclude(subcenter=subcenter).delete()
    if subcenter:
        OperatorPost.objects.update_or_create(user=user, defaults={"subcenter": subcenter})
    return user, password


# ---- incidents -----------------------------------------------------------------------


def request_digest(fields):
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def incident_report(
    *, actor, category: str, severity: int, lon: float, lat: float, title: str, description: str = "",
    address: str = "", reporter_name: str = "", reporter_phone: str = "", occurred_at=None,
    source: str = Incident.Source.API, idempotency_key: str | None = None,
):
    """Store an incident, route it, issue its tickets; return (incident, created).

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
        existing = _incident_for_key(actor, idempotency_key, digest)
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            incident = _incident_create(actor, fields, source, idempotency_key, digest)
    except IntegrityError:
        existing = idempotency_key and _incident_for_key(actor, idempotency_key, digest)
        if not existing:
            raise
        return existing, False  # a concurrent retry with the same key won the race
    return incident, True


def _incident_for_key(actor, key, digest):
    """Return the incident this client already reported under this key (keys are per client)."""
    incident = Incident.objects.filter(reported_by=actor, idempotency_key=key).first()
    if incident and incident.request_digest != digest:
        raise Conflict(ERR_IDEMPOTENCY_REUSED, field="idempotency_key")
    return incident


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
        status=incident_status(closed=False, statuses=[S.ISSUED for _ in owned]),
        routing=[r.as_dict() for r in routes.values()],
        unassigned_kinds=[kind for kind, r in routes.items() if not r.has_owner],
        idempotency_key=idempotency_key or None, request_digest=digest,
    )
    tickets = Ticket.objects.bulk_create([_ticket_new(incident, _routed_to(r), r.as_dict(), actor, now) for r in owned])
    health = subcenter_terminal_health([t.subcenter_id for t in tickets])
    drafts = [incident_event("incident.reported", incident, actor, tickets)]
    drafts += [ticket_event("ticket.issued", t, actor, incident=incident) for t in tickets]
    if not tickets or incident.unassigned_kinds:
        why = "no response plan for this category" if not plan else "no owner found for some kinds"
        drafts.append(incident_event("incident.triage", incident, actor, tickets, reason=why))
    publish_on_commit(events_append(drafts))
    incident.issued_tickets = _escalate_unattended(tickets, health)
    return incident


ERR_NO_LIVE_TERMINAL = "no live terminal at the sub-center"


def _routed_to(routing):
    """Return the sub-center a routing names, with the fields a ticket shows (others load on access)."""
    values = (routing.subcenter_id, routing.subcenter_code, routing.subcenter_name, routing.kind)
    return _partial(SubCenter, dict(zip(SUBCENTER_PART, values)))


def _escalate_unattended(tickets, health):
    """Page the duty phone at once for tickets whose sub-center has no live terminal.

    Return the tickets as they are now (an escalated one comes back changed).
    """
    return [
        ticket_escalate_now(ticket_id=t.id, reason=ERR_NO_LIVE_TERMINAL)[0] if health[t.subcenter_id]["online"] == 0 else t
        for t in tickets
    ]


def _ticket_new(incident, subcenter, routing, actor, now):
    plan = incident.plan
    ticket = Ticket(
        incident=incident, subcenter=subcenter, routing=routing, issued_at=now, issued_by=actor,
        checklist=list(plan.checklist) if plan else [],
        deadlines=plan.deadlines() if plan else dict(DEFAULT_DEADLINES),
    )
    _set_deadline(ticket, S.ISSUED)
    return ticket


def incident_status(*, closed: bool, statuses) -> str:
    """Return the incident status its tickets' statuses make."""
    live = [status for status in statuses if status not in (S.REJECTED, S.CANCELLED)]
    if closed:
        return IncidentStatus.CLOSED
    if not live:
        return IncidentStatus.TRIAGE
    if all(status in (S.RESOLVED, S.CLOSED) for status in live):
        return IncidentStatus.RESOLVED
    if all(status in (S.CONFIRMED, S.RESOLVED, S.CLOSED) for status in live):
        return IncidentStatus.ACKNOWLEDGED
    return IncidentStatus.DISPATCHED


LOCK_INCIDENT_SQL = "SELECT status, closed_at FROM dispatch_incident WHERE id = %s FOR UPDATE"
TICKET_STATUSES_SQL = "SELECT status FROM dispatch_ticket WHERE incident_id = %s"


def _incident_refresh_status(incident, tickets=None):
    """Derive the incident's status from its tickets and store it.

    Without `tickets`, the incident row is locked first: two tickets of one incident changing
    at once then take turns, and the second reads the first's committed status. Locks are
    always taken ticket(s) first, then the incident.
    """
    if tickets is None:
        with connection.cursor() as cursor:
            cursor.execute(LOCK_INCIDENT_SQL, [incident.pk])
            incident.status, incident.closed_at = cursor.fetchone()
            cursor.execute(TICKET_STATUSES_SQL, [incident.pk])
            statuses = [status for (status,) in cursor.fetchall()]
    else:
        statuses = [t.status for t in tickets]
    status = incident_status(closed=bool(incident.closed_at), statuses=statuses)
    if status != incident.status:
        incident.status = status
        Incident.objects.filter(pk=incident.pk).update(status=status)
    return status


def _lock_incident(incident_id):
    incident = Incident.objects.select_for_update(of=("self",)).select_related("category", "plan").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(ERR_INCIDENT_NOT_FOUND.format(id=incident_id))
    return incident


@transaction.atomic
def incident_assign(*, actor, incident_id: int, subcenter_code: str, note: str = ""):
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
    ticket = _ticket_new(incident, subcenter, routing, actor, timezone.now())
    ticket.save()
    if subcenter.kind_id in incident.unassigned_kinds:
        incident.unassigned_kinds = [k for k in incident.unassigned_kinds if k != subcenter.kind_id]
        incident.save(update_fields=["unassigned_kinds"])
    _incident_refresh_status(incident)
    health = subcenter_terminal_health([subcenter.id])
    publish_on_commit(events_append([ticket_event("ticket.issued", ticket, actor, incident=incident)]))
    return _escalate_unattended([ticket], health)[0]


@transaction.atomic
def incident_close(*, actor, incident_id: int, reason: str = ""):
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
    incident.save(update_fields=["closed_at", "closed_by"])
    _incident_refresh_status(incident, tickets)
    event = incident_event("incident.closed", incident, actor, tickets, reason=reason)
    publish_on_commit(events_append([event]))
    return incident


# ---- tickets -------------------------------------------------------------------------


DB = "default"
INCIDENT_PART = ("id", "status", "closed_at", "unassigned_kinds")
SUBCENTER_PART = ("id", "code", "name", "kind_id")
# The ORM's select_related().first() spent more CPU compiling than the whole transaction
# spent in PostgreSQL; this is the same query written out.
LOCK_TICKET_SQL = f"""
SELECT t.*, {", ".join(f"i.{f} AS i_{f}" for f in INCIDENT_PART)}, {", ".join(f"s.{f} AS s_{f}" for f in SUBCENTER_PART)}
FROM dispatch_ticket t JOIN dispatch_incident i ON i.id = t.incident_id JOIN geo_subcenter s ON s.id = t.subcenter_id
WHERE t.id = %s FOR UPDATE OF t
"""


def _partial(model, values):
    """Return a model instance with only these fields loaded; the others load on first access."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(DB, names, [values[name] for name in names])


def _lock_ticket(ticket_id, actor):
    """Return the ticket locked for update, or NotFound when missing or out of the actor's scope.

    Joins only rows no concurrent service changes: after waiting for the lock, PostgreSQL
    re-reads the ticket but not the joined rows (a joined accepted_by would be stale).
    """
    found = list(Ticket.objects.raw(LOCK_TICKET_SQL, [ticket_id]))
    ticket = found[0] if found else None
    if ticket is not None:  # what the services read of the joined rows; anything else loads on access
        ticket.incident = _partial(Incident, {f: getattr(ticket, f"i_{f}") for f in INCIDENT_PART})
        ticket.subcenter = _partial(SubCenter, {f: getattr(ticket, f"s_{f}") for f in SUBCENTER_PART})
    role = user_role(actor)
    if ticket is None or (role == Role.OPERATOR and ticket.subcenter_id != operator_subcenter_id(actor)):
        raise NotFound(ERR_TICKET_NOT_FOUND.format(id=ticket_id), field="ticket")
    return ticket


def _set_deadline(ticket, status):
    """Set when the worker next looks at the ticket, and clear its overdue state."""
    ticket.overdue, ticket.escalation_level = False, 0
    step = NEXT_DEADLINE.get(status)
    if step is None or (status == S.CONFIRMED and ticket.first_feedback_at):
        ticket.due_at = None
        return
    key, start = step
    ticket.due_at = getattr(ticket, start) + timedelta(seconds=ticket.deadlines.get(key, DEFAULT_DEADLINES[key]))


def _transition(*, actor, ticket_id, action, event_name, reason="", now=None, extra=None):
    """Apply one lifecycle action to a ticket; return (ticket, changed)."""
    lifecycle.check_role(user_role(actor), action)
    ticket = _lock_ticket(ticket_id, actor)
    if lifecycle.already_done(ticket, action, actor):
        _load_actors(ticket)
        return ticket, False
    ticket.status = lifecycle.next_status(ticket, action)
    now = now or timezone.now()
    changed = ["status", "due_at", "overdue", "escalation_level"]
    stamp = lifecycle.STAMPS.get(action)
    if stamp:
        setattr(ticket, f"{stamp}_at", now)
        changed.append(f"{stamp}_at")
        if stamp != "delivered" or actor is not None:
            setattr(ticket, f"{stamp}_by", actor)
            changed.append(f"{stamp}_by")
    if reason:
        ticket.reason = reason
        changed.append("reason")
    if action == "reopen":
        ticket.confirmed_at, ticket.resolved_at, ticket.resolved_by = now, None, None
        changed += ["confirmed_at", "resolved_at", "resolved_by"]
    _set_deadline(ticket, ticket.status)
    _save_fields(ticket, changed)
    _incident_refresh_status(ticket.incident)
    _load_actors(ticket)
    events = [ticket_event(event_name, ticket, actor, reason=reason or None, **(extra or {}))]
    publish_on_commit(events_append(events))
    return ticket, True


def _save_fields(instance, names):
    """Write these fields of one row: Model.save(update_fields=…) without compiling a query each time."""
    meta = type(instance)._meta
    fields = [meta.get_field(name) for name in names]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} SET {', '.join(f'{field.column} = %s' for field in fields)} WHERE id = %s",
            [*(field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields), instance.pk],
        )


def _load_actors(ticket):
    """Fetch in one query the users ticket_data names that are not loaded yet."""
    missing = [f for f in TICKET_ACTORS if getattr(ticket, f"{f}_id") and not Ticket._meta.get_field(f).is_cached(ticket)]
    users = get_user_model().objects.in_bulk({getattr(ticket, f"{f}_id") for f in missing})
    for field in missing:
        setattr(ticket, field, users[getattr(ticket, f"{field}_id")])


@transaction.atomic
def ticket_deliver(*, actor, ticket_id: int):
    """Record the terminal's receipt (machine acknowledgement); idempotent."""
    return _transition(actor=actor, ticket_id=ticket_id, action="deliver", event_name="ticket.delivered")


@transaction.atomic
def ticket_accept(*, actor, ticket_id: int):
    """An operator takes responsibility (human acknowledgement); idempotent for the same operator."""
    return _transition(actor=actor, ticket_id=ticket_id, action="accept", event_name="ticket.accepted")


@transaction.atomic
def ticket_reject(*, actor, ticket_id: int, reason: str):
    """An operator refuses the ticket with a reason; it goes back to the command center."""
    reason = need_reason(reason)
    ticket, changed = _transition(
        actor=actor, ticket_id=ticket_id, action="reject", event_name="ticket.rejected", reason=reason
    )
    if changed:
        incident = ticket.incident
        if ticket.subcenter.kind_id not in incident.unassigned_kinds:
            incident.unassigned_kinds = [*incident.unassigned_kinds, ticket.subcenter.kind_id]
            incident.save(update_fields=["unassigned_kinds"])
    return ticket, changed


@transaction.atomic
def ticket_confirm(*, actor, ticket_id: int):
    """The command center confirms the acceptance: the handoff is complete."""
    return _transition(actor=actor, ticket_id=ticket_id, action="confirm", event_name="ticket.confirmed")


@transaction.atomic
def ticket_feedback(*, actor, ticket_id: int, text: str, final: bool = False):
    """Post progress or final feedback; final feedback resolves the ticket. Return the feedback."""
    if not (text or "").strip():
        raise Invalid("feedback text is required", field="text")
    action = "resolve" if final else "feedback"
    lifecycle.check_role(user_role(actor), action)
    ticket = _lock_ticket(ticket_id, actor)
    lifecycle.next_status(ticket, action)  # refuses feedback in a state that takes none
    now = timezone.now()
    feedback = Feedback.objects.create(ticket=ticket, text=text.strip(), final=final, author=actor, created_at=now)
    if ticket.first_feedback_at is None:
        ticket.first_feedback_at = now
        if ticket.status == S.CONFIRMED:
            ticket.due_at, ticket.overdue, ticket.escalation_level = None, False, 0
        ticket.save(update_fields=["first_feedback_at", "due_at", "overdue", "escalation_level"])
    extra = {"feedback": feedback_data(feedback)}
    if final:
        _transition(actor=actor, ticket_id=ticket_id, action="resolve", event_name="ticket.resolved", now=now, extra=extra)
    else:
        publish_on_commit(events_append([ticket_event("ticket.feedback", ticket, actor, **extra)]))
    return feedback


@transaction.atomic
def ticket_reopen(*, actor, ticket_id: int, reason: str):
    """Send a resolved ticket back to the sub-center, with a reason."""
    reason = need_reason(reason)
    return _transition(actor=actor, ticket_id=ticket_id, action="reopen", event_name="ticket.reopened", reason=reason)


@transaction.atomic
def ticket_close(*, actor, ticket_id: int):
    """The command center reviews a resolved ticket and closes it."""
    return _transition(actor=actor, ticket_id=ticket_id, action="close", event_name="ticket.closed")


@transaction.atomic
def ticket_cancel(*, actor, ticket_id: int, reason: str):
    """The command center withdraws an open ticket, with a reason."""
    reason = need_reason(reason)
    return _transition(actor=actor, ticket_id=ticket_id, action="cancel", event_name="ticket.cancelled", reason=reason)
