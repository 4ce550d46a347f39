"""Event drafts: what each kind of event says, built in one place for every service."""

from dispatch.representations import incident_data, notice_data, ticket_data


def incident_event(name, incident, actor, audience, **extra):
    """Return the draft of an incident event, seen by these sub-centers (those holding its tickets)."""
    return {
        "name": name, "incident": incident, "actor": actor,
        "audience": audience,
        "payload": {"incident": incident_data(incident), **extra},
    }


def ticket_event(name, ticket, actor, *, incident=None, **extra):
    """Return the draft of a ticket event, seen by the ticket's sub-center."""
    payload = {"ticket": ticket_data(ticket), **extra}
    if incident is not None:
        payload["incident"] = incident_data(incident)
    return {
        "name": name, "incident": ticket.incident, "ticket": ticket, "actor": actor,
        "audience": [ticket.subcenter_id], "payload": payload,
    }


def notice_event(name, notice):
    """Return the draft of a notice event: for the command center only (no sub-center's audience)."""
    return {
        "name": name, "incident": notice.incident, "ticket": notice.ticket, "actor": None,
        "audience": [], "payload": {"notice": notice_data(notice)},
    }
