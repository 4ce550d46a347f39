"""Reads of the notice outbox, for the command center (the API lets only its roles ask)."""

from dispatch.models import Notice
from dispatch.representations import notice_data


def notice_list(*, status: list[str] | None = None, ticket: int | None = None, limit: int = 500) -> dict:
    """Return the newest notices, filtered by status and ticket."""
    notices = Notice.objects.order_by("-created_at", "-id")
    if status:
        notices = notices.filter(status__in=status)
    if ticket is not None:
        notices = notices.filter(ticket_id=ticket)
    rows = list(notices[: limit + 1])
    return {"notices": [notice_data(n) for n in rows[:limit]], "limit": limit, "truncated": len(rows) > limit}
