"""Reads of tickets: the list a user may see."""

from dispatch.representations import ticket_data
from dispatch.selectors.scope import tickets_visible


def ticket_list(
    *, user, status: list[str] | None = None, incident: int | None = None, subcenter: str | None = None,
    overdue: bool | None = None, limit: int = 500,
) -> dict:
    """Return the newest tickets the user may see, filtered."""
    tickets = tickets_visible(user=user).order_by("-issued_at", "-id")
    if status:
        tickets = tickets.filter(status__in=status)
    if incident is not None:
        tickets = tickets.filter(incident_id=incident)
    if subcenter:
        tickets = tickets.filter(subcenter__code=subcenter)
    if overdue is not None:
        tickets = tickets.filter(overdue=overdue)
    rows = list(tickets[: limit + 1])
    return {"tickets": [ticket_data(t) for t in rows[:limit]], "limit": limit, "truncated": len(rows) > limit}
