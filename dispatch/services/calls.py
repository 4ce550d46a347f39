"""Writes of calls (来电): another call about an incident, and merging a duplicate incident into its original."""

from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy

from dispatch import lifecycle
from dispatch.drafts import incident_event
from dispatch.errors import Conflict, NotFound
from dispatch.events import events_append
from dispatch.models import Call, Incident, Ticket
from dispatch.publisher import publish_on_commit
from dispatch.representations import TICKET_ACTORS, call_data, incident_data
from dispatch.roles import user_role
from dispatch.services.incidents import (
    ERR_INCIDENT_CLOSED,
    ERR_INCIDENT_NOT_FOUND,
    incident_audience,
    lock_open_incident,
)
from dispatch.services.tickets import tickets_cancel_locked

ERR_MERGE_SELF = gettext_lazy("an incident cannot be merged into itself")
ERR_MERGE_INTO_DUPLICATE = gettext_lazy("incident {id} is itself a duplicate of #{original}: merge into #{original}")
DUPLICATE_OF = "duplicate of #{id}"


@dataclass(frozen=True)
class CallLogged:
    """What attaching a call did: the call, and its incident as it is now."""

    call: Call
    incident: Incident


@transaction.atomic
def call_attach(
    *, actor, incident_id: int, reporter_name: str = "", reporter_phone: str = "", note: str = "",
    lon: float | None = None, lat: float | None = None,
) -> CallLogged:
    """Log another call about an open incident instead of opening a new one; its calls count one more."""
    lifecycle.check_role(user_role(actor), "log_call")
    incident = lock_open_incident(incident_id)
    call = Call.objects.create(
        incident=incident, reporter_name=reporter_name.strip(), reporter_phone=reporter_phone.strip(),
        note=note.strip(), location=Point(lon, lat, srid=4326) if lon is not None else None,
        received_at=timezone.now(), received_by=actor,
    )
    incident.call_count += 1
    incident.save(update_fields=["call_count"])
    event = incident_event("incident.call", incident, actor, incident_audience([incident.id]), call=call_data(call))
    publish_on_commit(events_append([event]))
    return CallLogged(call=call, incident=incident)


@dataclass(frozen=True)
class Merge:
    """What a merge did: the duplicate (now closed) and the original, as they are now."""

    incident: Incident
    into: Incident


@transaction.atomic
def incident_merge(*, actor, incident_id: int, into_id: int, reason: str = "") -> Merge:
    """Mark an incident a duplicate of another: its calls move there, its open tickets are cancelled, it closes."""
    lifecycle.check_role(user_role(actor), "merge_incident")
    if into_id == incident_id:
        raise Conflict(ERR_MERGE_SELF, field="into")
    # The duplicate's tickets first, then both incidents in id order: the order other services take them in.
    tickets = list(
        Ticket.objects.select_for_update(of=("self",)).select_related("subcenter", *TICKET_ACTORS)
        .filter(incident_id=incident_id, status__in=lifecycle.OPEN).order_by("id")
    )
    duplicate, into = _lock_pair(incident_id, into_id)
    now, outcome = timezone.now(), DUPLICATE_OF.format(id=into.id)
    drafts = tickets_cancel_locked(tickets, actor=actor, reason=outcome, now=now)
    moved = Call.objects.filter(incident=duplicate).update(
        incident=into, moved_from=Coalesce("moved_from", Value(duplicate.id))
    )
    changes = {"call_count": [into.call_count, into.call_count + moved]}
    into.call_count += moved
    into.save(update_fields=["call_count"])
    duplicate.duplicate_of, duplicate.outcome = into, outcome
    duplicate.closed_at, duplicate.closed_by = now, actor
    duplicate.status = lifecycle.incident_status(closed=True, statuses=[])
    duplicate.save(update_fields=["duplicate_of", "outcome", "closed_at", "closed_by", "status"])
    into_audience = incident_audience([into.id])
    audience = list({*incident_audience([duplicate.id]), *into_audience})
    merged = incident_event("incident.merged", duplicate, actor, audience, into=incident_data(into), reason=reason)
    updated = incident_event("incident.updated", into, actor, into_audience, changes=changes, merged=duplicate.id)
    publish_on_commit(events_append([*drafts, merged, updated]))
    return Merge(incident=duplicate, into=into)


def _lock_pair(incident_id, into_id):
    """Lock both incidents, in id order; refuse a closed duplicate, a closed original or one that is a duplicate."""
    found = {
        i.id: i for i in Incident.objects.select_for_update(of=("self",)).select_related("category", "plan")
        .filter(pk__in=[incident_id, into_id]).order_by("id")
    }
    if incident_id not in found:
        raise NotFound(ERR_INCIDENT_NOT_FOUND.format(id=incident_id))
    if into_id not in found:
        raise NotFound(ERR_INCIDENT_NOT_FOUND.format(id=into_id), field="into")
    duplicate, into = found[incident_id], found[into_id]
    if duplicate.closed_at:
        raise Conflict(ERR_INCIDENT_CLOSED.format(id=duplicate.id), field="status", status=duplicate.status)
    if into.duplicate_of_id:
        raise Conflict(
            ERR_MERGE_INTO_DUPLICATE.format(id=into.id, original=into.duplicate_of_id), field="into", status=into.status
        )
    if into.closed_at:
        raise Conflict(ERR_INCIDENT_CLOSED.format(id=into.id), field="into", status=into.status)
    return duplicate, into
