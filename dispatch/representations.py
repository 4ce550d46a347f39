"""One JSON shape per thing, used by event payloads and the API alike.

Applying the events to an old state gives the state the API returns now, because both
are made by these functions.
"""


def iso(value):
    return value.isoformat() if value else None


def user_name(user):
    return user.username if user else None


def point_data(point):
    return {"type": "Point", "coordinates": [point.x, point.y]} if point else None


TICKET_ACTORS = ("delivered_by", "accepted_by", "confirmed_by")  # the users ticket_data names


def ticket_data(ticket):
    """Return a ticket as the API and the stream show it."""
    subcenter = ticket.subcenter
    return {
        "id": ticket.id,
        "incident_id": ticket.incident_id,
        "subcenter": {
            "id": subcenter.id, "code": subcenter.code, "name": subcenter.name, "name_en": subcenter.name_en,
            "kind": subcenter.kind_id, "duty_phone": subcenter.duty_phone,
        },
        "status": ticket.status,
        "routing": ticket.routing,
        "checklist": ticket.checklist,
        "checklist_done": ticket.checklist_done,
        "deadlines": ticket.deadlines,
        "reason": ticket.reason,
        "issued_at": iso(ticket.issued_at),
        "delivered_at": iso(ticket.delivered_at),
        "delivered_by": user_name(ticket.delivered_by),
        "accepted_at": iso(ticket.accepted_at),
        "accepted_by": user_name(ticket.accepted_by),
        "confirmed_at": iso(ticket.confirmed_at),
        "confirmed_by": user_name(ticket.confirmed_by),
        "first_feedback_at": iso(ticket.first_feedback_at),
        "resolved_at": iso(ticket.resolved_at),
        "closed_at": iso(ticket.closed_at),
        "rejected_at": iso(ticket.rejected_at),
        "cancelled_at": iso(ticket.cancelled_at),
        "due_at": iso(ticket.due_at),
        "overdue": ticket.overdue,
        "escalation_level": ticket.escalation_level,
    }


def incident_data(incident):
    """Return an incident's own fields (no tickets) as the API and the stream show them."""
    return {
        "id": incident.id,
        "title": incident.title,
        "category": incident.category.code,
        "category_name": incident.category.name,
        "category_name_en": incident.category.name_en,
        "severity": incident.severity,
        "status": incident.status,
        "location": point_data(incident.location),
        "address": incident.address,
        "place": incident.place,
        "description": incident.description,
        "reporter_name": incident.reporter_name,
        "reporter_phone": incident.reporter_phone,
        "occurred_at": iso(incident.occurred_at),
        "reported_at": iso(incident.reported_at),
        "source": incident.source,
        "routing": incident.routing,
        "unassigned_kinds": incident.unassigned_kinds,
        "closed_at": iso(incident.closed_at),
        "outcome": incident.outcome,
        "duplicate_of": incident.duplicate_of_id,
        "call_count": incident.call_count,
    }


def call_data(call):
    """Return one call about an incident (来电) as the API and the incident.call event show it."""
    return {
        "id": call.id,
        "incident_id": call.incident_id,
        "reporter_name": call.reporter_name,
        "reporter_phone": call.reporter_phone,
        "note": call.note,
        "location": point_data(call.location),
        "received_at": iso(call.received_at),
        "received_by": user_name(call.received_by),
        "moved_from": call.moved_from_id,
    }


def feedback_data(feedback):
    return {
        "id": feedback.id,
        "ticket_id": feedback.ticket_id,
        "text": feedback.text,
        "final": feedback.final,
        "author": user_name(feedback.author),
        "created_at": iso(feedback.created_at),
    }


def event_data(event):
    """Return an event as it travels on the stream and in the timeline."""
    return {
        "seq": event.seq,
        "name": event.name,
        "incident_id": event.incident_id,
        "ticket_id": event.ticket_id,
        "at": iso(event.created_at),
        "payload": event.payload,
    }


def notice_data(notice):
    """Return an escalation notice (the outbox row) as the API and the notice.failed event show it."""
    return {
        "id": notice.id,
        "ticket_id": notice.ticket_id,
        "incident_id": notice.incident_id,
        "stage": notice.stage,
        "level": notice.level,
        "to": notice.recipient,
        "status": notice.status,
        "attempts": notice.attempts,
        "last_error": notice.last_error,
        "created_at": iso(notice.created_at),
        "sent_at": iso(notice.sent_at),
        "failed_at": iso(notice.failed_at),
    }
