"""Writes of tickets (处警单): each lifecycle action, feedback, and the incident following its tickets.

Each action locks the ticket row once, checks the action against the transitions table
(dispatch.lifecycle), writes its timestamps, sets the next deadline, appends its events and
rings the doorbell after commit. Locks are always taken ticket(s) first, then the incident.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from dispatch import lifecycle, sql
from dispatch.drafts import incident_event, ticket_event
from dispatch.errors import ERR_TICKET_NOT_FOUND, Conflict, Invalid, NotFound, need_reason
from dispatch.events import events_append
from dispatch.models import Feedback, Incident, Ticket
from dispatch.models import TicketStatus as S
from dispatch.plans import DEFAULT_DEADLINES
from dispatch.publisher import publish_on_commit
from dispatch.representations import TICKET_ACTORS, feedback_data
from dispatch.roles import Role, operator_subcenter_id, user_role
from geo.models import SubCenter

ERR_FEEDBACK_TEXT = gettext_lazy("feedback text is required")
ERR_CHECK_ITEM = gettext_lazy("no checklist item {item}: the ticket's checklist has {count} item(s), numbered from 0")
ERR_CHECK_NOT_OPEN = gettext_lazy("cannot tick the checklist of a ticket that is {status}")

# What the deadline clock waits for after each status: (plan deadline key, counted from).
NEXT_DEADLINE = {
    S.ISSUED: ("deliver_s", "issued_at"),
    S.DELIVERED: ("accept_s", "delivered_at"),
    S.ACCEPTED: ("confirm_s", "accepted_at"),
    S.CONFIRMED: ("feedback_s", "confirmed_at"),
}


def ticket_new(*, incident, subcenter, routing, actor, now) -> Ticket:
    """Return a new, unsaved ticket of the incident for the sub-center, its first deadline set."""
    plan = incident.plan
    ticket = Ticket(
        incident=incident, subcenter=subcenter, routing=routing, issued_at=now, issued_by=actor,
        checklist=list(plan.checklist) if plan else [],
        deadlines=plan.deadlines() if plan else dict(DEFAULT_DEADLINES),
    )
    set_deadline(ticket, S.ISSUED)
    return ticket


def set_deadline(ticket, status):
    """Set when the worker next looks at the ticket, and clear its overdue state."""
    ticket.overdue, ticket.escalation_level = False, 0
    step = NEXT_DEADLINE.get(status)
    if step is None or (status == S.CONFIRMED and ticket.first_feedback_at):
        ticket.due_at = None
        return
    key, start = step
    ticket.due_at = getattr(ticket, start) + timedelta(seconds=ticket.deadlines.get(key, DEFAULT_DEADLINES[key]))


def incident_follow_tickets(*, incident_id: int, actor, add_unassigned: str | None = None, drop_unassigned: str | None = None):
    """Lock the incident, derive its status from its tickets and store what changed.

    Two tickets of one incident changing at once take turns on the incident's lock, so the
    second reads the first's committed status. Return (the incident re-read, [its
    incident.updated draft]) when something changed, else (None, []).
    """
    with connection.cursor() as cursor:
        cursor.execute(sql.LOCK_INCIDENT, [incident_id])
        status, closed_at, kinds = cursor.fetchone()
        cursor.execute(sql.TICKETS_OF_INCIDENT, [incident_id])
        tickets = cursor.fetchall()
    new_kinds = [k for k in kinds if k != drop_unassigned]
    if add_unassigned and add_unassigned not in new_kinds:
        new_kinds.append(add_unassigned)
    new_status = lifecycle.incident_status(closed=bool(closed_at), statuses=[s for s, _ in tickets])
    if (new_status, new_kinds) == (status, kinds):
        return None, []
    Incident.objects.filter(pk=incident_id).update(status=new_status, unassigned_kinds=new_kinds)
    incident = Incident.objects.select_related("category").get(pk=incident_id)
    audience = [subcenter_id for _, subcenter_id in tickets]
    return incident, [incident_event("incident.updated", incident, actor, audience)]


def lock_ticket(ticket_id, actor) -> Ticket:
    """Return the ticket locked for update, or NotFound when missing or out of the actor's scope."""
    found = list(Ticket.objects.raw(sql.LOCK_TICKET, [ticket_id]))
    ticket = found[0] if found else None
    if ticket is not None:  # what the services read of the joined rows; anything else loads on access
        ticket.incident = sql.row_partial(Incident, {f: getattr(ticket, f"i_{f}") for f in sql.INCIDENT_PART})
        ticket.subcenter = sql.row_partial(SubCenter, {f: getattr(ticket, f"s_{f}") for f in sql.SUBCENTER_PART})
    role = user_role(actor)
    if ticket is None or (role == Role.OPERATOR and ticket.subcenter_id != operator_subcenter_id(actor)):
        raise NotFound(ERR_TICKET_NOT_FOUND.format(id=ticket_id), field="ticket")
    return ticket


def _transition(*, actor, ticket_id, action, event_name, reason="", to_triage=False):
    """Lock the ticket and apply one lifecycle action; return (ticket, changed)."""
    lifecycle.check_role(user_role(actor), action)
    ticket = lock_ticket(ticket_id, actor)
    if lifecycle.already_done(ticket, action, actor):
        _load_actors(ticket)
        return ticket, False
    _apply(ticket, actor=actor, action=action, event_name=event_name, now=timezone.now(), reason=reason,
           to_triage=to_triage)
    return ticket, True


def _apply(ticket, *, actor, action, event_name, now, reason="", extra=None, written=(), to_triage=False):
    """Move the locked ticket on by one action, write it with `written`, append its events."""
    ticket.status = lifecycle.next_status(ticket, action)
    changed = ["status", "due_at", "overdue", "escalation_level", *written]
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
    set_deadline(ticket, ticket.status)
    sql.row_update(ticket, changed)
    _load_actors(ticket)
    drafts = [ticket_event(event_name, ticket, actor, reason=reason or None, **(extra or {}))]
    kind = ticket.subcenter.kind_id if to_triage else None
    drafts += incident_follow_tickets(incident_id=ticket.incident_id, actor=actor, add_unassigned=kind)[1]
    publish_on_commit(events_append(drafts))


def tickets_cancel_locked(tickets, *, actor, reason, now) -> list[dict]:
    """Cancel these open tickets, already locked with their actors loaded; return their event drafts.

    For a service that settles their incident itself (a merge closes it), so no incident.updated follows.
    """
    drafts = []
    for ticket in tickets:
        ticket.status = lifecycle.next_status(ticket, "cancel")
        ticket.cancelled_at, ticket.cancelled_by, ticket.reason = now, actor, reason
        set_deadline(ticket, ticket.status)
        ticket.save(update_fields=["status", "cancelled_at", "cancelled_by", "reason", "due_at", "overdue", "escalation_level"])
        drafts.append(ticket_event("ticket.cancelled", ticket, actor, reason=reason))
    return drafts


def _load_actors(ticket):
    """Fetch in one query the users ticket_data names that are not loaded yet."""
    missing = [f for f in TICKET_ACTORS if getattr(ticket, f"{f}_id") and not Ticket._meta.get_field(f).is_cached(ticket)]
    users = get_user_model().objects.in_bulk({getattr(ticket, f"{f}_id") for f in missing})
    for field in missing:
        setattr(ticket, field, users[getattr(ticket, f"{field}_id")])


@transaction.atomic
def ticket_deliver(*, actor, ticket_id: int) -> tuple[Ticket, bool]:
    """Record the terminal's receipt (machine acknowledgement); idempotent."""
    return _transition(actor=actor, ticket_id=ticket_id, action="deliver", event_name="ticket.delivered")


@transaction.atomic
def ticket_accept(*, actor, ticket_id: int) -> tuple[Ticket, bool]:
    """An operator takes responsibility (human acknowledgement); idempotent for the same operator."""
    return _transition(actor=actor, ticket_id=ticket_id, action="accept", event_name="ticket.accepted")


@transaction.atomic
def ticket_reject(*, actor, ticket_id: int, reason: str) -> tuple[Ticket, bool]:
    """An operator refuses the ticket with a reason; its kind goes back to the command center to assign."""
    reason = need_reason(reason)
    return _transition(
        actor=actor, ticket_id=ticket_id, action="reject", event_name="ticket.rejected", reason=reason, to_triage=True
    )


@transaction.atomic
def ticket_confirm(*, actor, ticket_id: int) -> tuple[Ticket, bool]:
    """The command center confirms the acceptance: the handoff is complete."""
    return _transition(actor=actor, ticket_id=ticket_id, action="confirm", event_name="ticket.confirmed")


@transaction.atomic
def ticket_feedback(*, actor, ticket_id: int, text: str, final: bool = False) -> tuple[Feedback, Ticket]:
    """Post progress feedback, or final feedback that resolves the ticket; return (feedback, ticket)."""
    if not (text or "").strip():
        raise Invalid(ERR_FEEDBACK_TEXT, field="text")
    action = "resolve" if final else "feedback"
    lifecycle.check_role(user_role(actor), action)
    ticket = lock_ticket(ticket_id, actor)
    lifecycle.next_status(ticket, action)  # refuses feedback in a state that takes none
    now = timezone.now()
    feedback = Feedback.objects.create(ticket=ticket, text=text.strip(), final=final, author=actor, created_at=now)
    written = []
    if ticket.first_feedback_at is None:
        ticket.first_feedback_at = now
        written.append("first_feedback_at")
    extra = {"feedback": feedback_data(feedback)}
    if final:
        _apply(ticket, actor=actor, action="resolve", event_name="ticket.resolved", now=now, extra=extra, written=written)
        return feedback, ticket
    if written:
        if ticket.status == S.CONFIRMED:
            ticket.due_at, ticket.overdue, ticket.escalation_level = None, False, 0
        sql.row_update(ticket, [*written, "due_at", "overdue", "escalation_level"])
    _load_actors(ticket)
    publish_on_commit(events_append([ticket_event("ticket.feedback", ticket, actor, **extra)]))
    return feedback, ticket


@transaction.atomic
def ticket_reopen(*, actor, ticket_id: int, reason: str) -> tuple[Ticket, bool]:
    """Send a resolved ticket back to the sub-center, with a reason."""
    reason = need_reason(reason)
    return _transition(actor=actor, ticket_id=ticket_id, action="reopen", event_name="ticket.reopened", reason=reason)


@transaction.atomic
def ticket_close(*, actor, ticket_id: int) -> tuple[Ticket, bool]:
    """The command center reviews a resolved ticket and closes it."""
    return _transition(actor=actor, ticket_id=ticket_id, action="close", event_name="ticket.closed")


@transaction.atomic
def ticket_cancel(*, actor, ticket_id: int, reason: str) -> tuple[Ticket, bool]:
    """The command center withdraws an open ticket, with a reason."""
    reason = need_reason(reason)
    return _transition(actor=actor, ticket_id=ticket_id, action="cancel", event_name="ticket.cancelled", reason=reason)


@transaction.atomic
def ticket_check(*, actor, ticket_id: int, item: int, done: bool) -> tuple[Ticket, bool]:
    """Tick (or untick) one item of an open ticket's checklist (处置清单); return (ticket, changed)."""
    lifecycle.check_role(user_role(actor), "check")
    ticket = lock_ticket(ticket_id, actor)
    if ticket.status not in lifecycle.OPEN:
        raise Conflict(ERR_CHECK_NOT_OPEN.format(status=ticket.status), field="status", status=ticket.status)
    if not 0 <= item < len(ticket.checklist):
        raise Invalid(ERR_CHECK_ITEM.format(item=item, count=len(ticket.checklist)), field="item")
    ticked = set(ticket.checklist_done)
    _load_actors(ticket)
    if (item in ticked) == done:
        return ticket, False
    ticket.checklist_done = sorted(ticked | {item} if done else ticked - {item})
    sql.row_update(ticket, ["checklist_done"])
    publish_on_commit(events_append([ticket_event("ticket.checked", ticket, actor, item=item, done=done)]))
    return ticket, True
