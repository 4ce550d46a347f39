"""Who sees what (docs/PROTOCOL.md, "Authentication and roles"), as querysets every read starts from.

A dispatcher, leader or administrator sees everything; an operator sees only the incidents
that have a ticket for their sub-center, only that sub-center's tickets and feedback, and
only the events addressed to it. Anything out of scope is reported as missing (NotFound),
never as forbidden, so its existence does not leak.
"""

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy

from dispatch.errors import ERR_TICKET_NOT_FOUND, NotFound
from dispatch.models import Incident, Ticket
from dispatch.representations import TICKET_ACTORS
from dispatch.roles import Role, operator_subcenter_id, user_role

ERR_INCIDENT_NOT_FOUND = gettext_lazy("no incident {id}")
TICKET_RELATED = ("subcenter", *TICKET_ACTORS)


def operator_scope(user):
    """Return (is an operator, their sub-center id); a role-less user sees nothing."""
    role = user_role(user)
    if role is None:
        return True, None
    if role == Role.OPERATOR:
        return True, operator_subcenter_id(user)
    return False, None


def incidents_visible(*, user):
    """Return the incidents the user may see."""
    incidents = Incident.objects.select_related("category")
    is_operator, subcenter_id = operator_scope(user)
    if not is_operator:
        return incidents
    own = Ticket.objects.filter(incident=OuterRef("pk"), subcenter_id=subcenter_id)
    return incidents.filter(Exists(own))


def tickets_visible(*, user):
    """Return the tickets the user may see, with what ticket_data needs."""
    tickets = Ticket.objects.select_related(*TICKET_RELATED)
    is_operator, subcenter_id = operator_scope(user)
    return tickets.filter(subcenter_id=subcenter_id) if is_operator else tickets


def incident_get(*, user, incident_id: int) -> Incident:
    """Return one incident in the user's scope, or raise NotFound."""
    incident = incidents_visible(user=user).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(ERR_INCIDENT_NOT_FOUND.format(id=incident_id), field="incident")
    return incident


def ticket_get(*, user, ticket_id: int) -> Ticket:
    """Return one ticket in the user's scope, or raise NotFound."""
    ticket = tickets_visible(user=user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(ERR_TICKET_NOT_FOUND.format(id=ticket_id), field="ticket")
    return ticket
