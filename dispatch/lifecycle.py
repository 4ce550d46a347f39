"""The ticket lifecycle as data: one transitions table, one place that applies it."""

from django.utils.translation import gettext_lazy

from dispatch.errors import Conflict, Forbidden
from dispatch.models import IncidentStatus
from dispatch.models import TicketStatus as S
from dispatch.roles import Role

OPEN = (S.ISSUED, S.DELIVERED, S.ACCEPTED, S.CONFIRMED, S.RESOLVED)

# action → {from status: to status}
TRANSITIONS = {
    "deliver": {S.ISSUED: S.DELIVERED},
    "accept": {S.DELIVERED: S.ACCEPTED},
    "reject": {S.ISSUED: S.REJECTED, S.DELIVERED: S.REJECTED},
    "confirm": {S.ACCEPTED: S.CONFIRMED},
    "feedback": {S.ACCEPTED: S.ACCEPTED, S.CONFIRMED: S.CONFIRMED},
    "resolve": {S.CONFIRMED: S.RESOLVED},
    "reopen": {S.RESOLVED: S.CONFIRMED},
    "close": {S.RESOLVED: S.CLOSED},
    "cancel": {status: S.CANCELLED for status in OPEN},
}

# Who may take each action; operators only on their own sub-center's tickets. Admins are
# bound to no sub-center, so the terminal's actions are not theirs.
ACTION_ROLES = {
    "report": {Role.DISPATCHER, Role.ADMIN},
    "assign": {Role.DISPATCHER, Role.ADMIN},
    "close_incident": {Role.DISPATCHER, Role.ADMIN},
    "edit_incident": {Role.DISPATCHER, Role.ADMIN},
    "log_call": {Role.DISPATCHER, Role.ADMIN},
    "merge_incident": {Role.DISPATCHER, Role.ADMIN},
    "deliver": {Role.OPERATOR},
    "accept": {Role.OPERATOR},
    "reject": {Role.OPERATOR},
    "feedback": {Role.OPERATOR},
    "resolve": {Role.OPERATOR},
    "confirm": {Role.DISPATCHER, Role.ADMIN},
    "reopen": {Role.DISPATCHER, Role.ADMIN},
    "close": {Role.DISPATCHER, Role.ADMIN},
    "cancel": {Role.DISPATCHER, Role.ADMIN},
    "check": {Role.OPERATOR},  # a checklist tick: no transition, open tickets only (services.ticket_check)
}

# Which timestamp and actor column each action fills.
STAMPS = {
    "deliver": "delivered", "accept": "accepted", "reject": "rejected", "confirm": "confirmed",
    "resolve": "resolved", "close": "closed", "cancel": "cancelled",
}

ERR_TRANSITION = gettext_lazy("cannot {action} a ticket that is {status}")
ERR_ROLE = gettext_lazy("a {role} cannot {action} a ticket")
ERR_ALREADY_ACCEPTED = gettext_lazy("already accepted by {username}")
ERR_NO_ROLE = gettext_lazy("user without a role")


def already_done(ticket, action, actor):
    """Tell whether repeating this action would change nothing (acknowledgements are idempotent)."""
    if action == "deliver":
        return ticket.delivered_at is not None
    if action == "accept" and ticket.status == S.ACCEPTED:
        if ticket.accepted_by_id == actor.id:
            return True
        raise Conflict(
            ERR_ALREADY_ACCEPTED.format(username=ticket.accepted_by.username), field="status", status=ticket.status
        )
    target = {"confirm": S.CONFIRMED, "close": S.CLOSED, "cancel": S.CANCELLED, "reject": S.REJECTED}
    return action in target and ticket.status == target[action]


def next_status(ticket, action):
    """Return the status the action leads to, or raise Conflict naming the current one."""
    try:
        return TRANSITIONS[action][ticket.status]
    except KeyError:
        raise Conflict(
            ERR_TRANSITION.format(action=action, status=ticket.status), field="status", status=ticket.status
        ) from None


def check_role(role, action):
    if role not in ACTION_ROLES[action]:
        raise Forbidden(ERR_ROLE.format(role=role or ERR_NO_ROLE, action=action))


def incident_status(*, closed: bool, statuses) -> str:
    """Return the status an incident's tickets' statuses make (docs/ARCHITECTURE.md, "The lifecycle")."""
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
