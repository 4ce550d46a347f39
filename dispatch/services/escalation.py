"""Escalate tickets whose deadline passed, one rung at a time (docs/PROTOCOL.md, "Deadlines and escalation").

The ladder: 1 re-push and louder alert on the terminal → 2 alert on the console and the
dashboard → 3 the sub-center's duty phone, through the notifier → 4 the leaders, through
the notifier. Each rung is a ``ticket.overdue`` event; the next rung waits ESCALATION_STEP_S.
Overdue is a flag, not a status: every lifecycle service resets due_at, overdue and
escalation_level, so a ticket that moved on is simply no longer due.

Any number of workers may run: rows are claimed with SELECT … FOR UPDATE SKIP LOCKED and
written with a compare-and-set, so one rung is never climbed twice.

Rungs 3 and 4 write their notices as rows (dispatch.models.Notice) in the same transaction as
the ticket.overdue event; a worker sends them (services/notices.py), so a crash after the
commit loses no page.
"""

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dispatch.drafts import ticket_event
from dispatch.errors import ERR_TICKET_NOT_FOUND, NotFound, need_reason
from dispatch.events import events_append
from dispatch.models import Notice, Ticket
from dispatch.models import TicketStatus as S
from dispatch.notifiers import LEADERS, leader_phones
from dispatch.publisher import publish_on_commit
from dispatch.representations import TICKET_ACTORS
from dispatch.services.tickets import NEXT_DEADLINE

log = logging.getLogger(__name__)

REPUSH, ALERT, DUTY_PHONE, LEADERS_LEVEL = 1, 2, 3, 4
ACTIONS = {REPUSH: "repush", ALERT: "alert", DUTY_PHONE: "notify_duty_phone", LEADERS_LEVEL: "notify_leaders"}
TOP_LEVEL = LEADERS_LEVEL

# Which deadline a ticket in each status is waiting for.
STAGES = {
    S.ISSUED: "delivery", S.DELIVERED: "acceptance", S.ACCEPTED: "confirmation", S.CONFIRMED: "first_feedback",
}
STAGE_NAMES_ZH = {"delivery": "送达", "acceptance": "接收", "confirmation": "确认", "first_feedback": "首次反馈"}


def escalation_step() -> timedelta:
    """Return the wait between two rungs (ESCALATION_STEP_S, default 30 s)."""
    return timedelta(seconds=getattr(settings, "ESCALATION_STEP_S", 30))


def tickets_escalate_due(*, now: datetime, batch: int = 100, step_s: float | None = None) -> int:
    """Climb one rung for up to `batch` tickets due at `now`; return how many were claimed.

    One transaction per batch, which also writes the notices its rungs ask for.
    """
    step = escalation_step() if step_s is None else timedelta(seconds=step_s)
    with transaction.atomic():
        tickets = list(_claimable().filter(due_at__lte=now).order_by("due_at", "id")[:batch])
        drafts, notices = [], []
        for ticket in tickets:
            draft = _climb(ticket, level=ticket.escalation_level + 1, now=now, step=step)
            if draft:
                drafts.append(draft)
                notices += _notices(ticket, draft["payload"], now=now)
        _record(drafts, notices)
    return len(tickets)


@transaction.atomic
def ticket_escalate_now(*, ticket_id: int, reason: str, now: datetime | None = None):
    """Jump a waiting ticket straight to the duty-phone rung (its sub-center has no live terminal).

    Return (ticket, changed); a ticket already at that rung or higher, or not waiting on a
    deadline, is left alone.
    """
    reason = need_reason(reason)
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related(*_RELATED).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(ERR_TICKET_NOT_FOUND.format(id=ticket_id), field="ticket")
    if ticket.due_at is None or ticket.escalation_level >= DUTY_PHONE:
        return ticket, False
    draft = _climb(ticket, level=DUTY_PHONE, now=now, step=escalation_step(), reason=reason)
    if draft is None:
        return ticket, False
    _record([draft], _notices(ticket, draft["payload"], now=now))
    return ticket, True


_RELATED = ("incident", "subcenter", *TICKET_ACTORS)


def _claimable():
    # OF self: the joined rows are only read, and FOR UPDATE refuses the nullable side of an outer join.
    return Ticket.objects.select_for_update(skip_locked=True, of=("self",)).select_related(*_RELATED)


def _climb(ticket, *, level, now, step, reason=None):
    """Move the locked ticket to `level` with a compare-and-set; return its event draft or None."""
    stage = STAGES.get(ticket.status)
    if stage is None or level > TOP_LEVEL:  # nothing left to wait for: stop the clock quietly
        Ticket.objects.filter(pk=ticket.pk, due_at=ticket.due_at).update(due_at=None)
        return None
    due_at = now + step if level < TOP_LEVEL else None
    won = Ticket.objects.filter(
        pk=ticket.pk, status=ticket.status, escalation_level=ticket.escalation_level, due_at=ticket.due_at
    ).update(overdue=True, escalation_level=level, due_at=due_at)
    if won != 1:  # another worker got there first
        return None
    ticket.overdue, ticket.escalation_level, ticket.due_at = True, level, due_at
    extra = {"level": level, "action": ACTIONS[level], "stage": stage}
    if reason:
        extra["reason"] = reason
    return ticket_event("ticket.overdue", ticket, None, **extra)


def _record(drafts, notices):
    """Append the events and write the notices in the caller's transaction; ring the doorbell after commit."""
    if not drafts:
        return
    # A notice is due at once; the unique step key refuses a second one to the same number.
    Notice.objects.bulk_create(notices)
    publish_on_commit(events_append(drafts))


def _notices(ticket, payload, *, now):
    """Return the unsaved notices a rung sends: the duty phone at level 3, the leaders at level 4."""
    level = payload["level"]
    if level == DUTY_PHONE:
        phone = ticket.subcenter.duty_phone.strip()
        if not phone:
            log.warning("sub-center %s has no duty phone; ticket %s not phoned", ticket.subcenter.code, ticket.id)
            return []
        recipients = [phone]
    elif level == LEADERS_LEVEL:
        recipients = leader_phones() or [LEADERS]
    else:
        return []
    text = _notice_text(ticket, payload)
    started_at = getattr(ticket, NEXT_DEADLINE[ticket.status][1])  # when this stage's clock started
    return [_notice(ticket, payload["stage"], started_at, level, to, text, due=now) for to in recipients]


def _notice(ticket, stage, started_at, level, recipient, text, *, due):
    step = f"{ticket.id}|{stage}|{started_at.isoformat()}|{level}|{recipient}"
    return Notice(
        ticket=ticket, incident_id=ticket.incident_id, stage=stage, stage_started_at=started_at, level=level,
        recipient=recipient, text=text, idempotency_key="gd-" + hashlib.sha256(step.encode()).hexdigest()[:40],
        created_at=timezone.now(), next_attempt_at=due,
    )


def _notice_text(ticket, payload):
    stage = payload["stage"]
    text = (
        f"【应急指挥】处警单#{ticket.id}（{ticket.incident.title}）{ticket.subcenter.name}"
        f"超时未{STAGE_NAMES_ZH[stage]}，第{payload['level']}级升级。"
        f" Ticket #{ticket.id} (incident #{ticket.incident_id}, {ticket.subcenter.code}):"
        f" {stage} overdue, escalation level {payload['level']}."
    )
    if payload.get("reason"):
        text += f" {payload['reason']}"
    return text
