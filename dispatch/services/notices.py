"""The notice outbox (通知发件箱): send due notices, retry with back-off, give up loudly (docs/OPERATIONS.md, "Outbox").

An escalation writes its notices as rows in its own transaction (services/escalation.py); any
worker sends them, one at a time:
1. claim — a short transaction takes the most overdue due notice with SELECT … FOR UPDATE SKIP
   LOCKED, leases it (status sending, attempts + 1, next_attempt_at = the lease's end) and writes
   an attempt row;
2. send — the gateway is called outside any transaction, with the notice's idempotency key;
3. settle — a second short transaction records the answer, with a compare-and-set on
   (status sending, attempts), and schedules the next try or gives up (`notice.failed`).
No row lock is held while the gateway answers, and no two workers hold a notice at once: a lease
outlives any one try. A worker that dies mid-send leaves the lease to run out; the next claim
marks that attempt lost and tries again with the same key, so the gateway can tell a repeat.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dispatch.drafts import notice_event
from dispatch.events import events_append
from dispatch.models import AttemptOutcome as Outcome
from dispatch.models import Notice, NoticeAttempt
from dispatch.models import NoticeStatus as N
from dispatch.notifiers import Message, Refused, get_notifier
from dispatch.publisher import publish_on_commit

log = logging.getLogger(__name__)

ERR_BACKEND = "the notifier backend cannot be loaded"
ERR_LOST = "no answer recorded: the worker stopped or hung past its lease"


def notices_send_due(*, now: datetime | None = None, batch: int = 20) -> int:
    """Try up to `batch` notices due at `now`, one at a time, recording each try; return how many were taken."""
    now, started = now or timezone.now(), time.monotonic()

    def clock():  # `now`, moved on by the time spent sending: a slow gateway delays the next claims
        return now + timedelta(seconds=time.monotonic() - started)

    notifier, taken = None, 0
    while taken < batch and (claimed := _claim(clock())) is not None:
        taken += 1
        notice, attempt = claimed
        if attempt is None:  # a lost try that was its last: failed for good, nothing to send
            continue
        notifier = notifier or _notifier()
        outcome, detail = _try(notifier, notice)
        _settle(notice, attempt, outcome, detail, at=clock())
    return taken


def max_attempts() -> int:
    """Return how many tries a notice gets (NOTIFIER_MAX_ATTEMPTS, default 5)."""
    return max(1, int(getattr(settings, "NOTIFIER_MAX_ATTEMPTS", 5)))


def retry_delay(attempts: int) -> timedelta:
    """Return the wait after the `attempts`-th failed try: NOTIFIER_RETRY_S doubled each time."""
    return timedelta(seconds=float(getattr(settings, "NOTIFIER_RETRY_S", 5)) * 2 ** (attempts - 1))


def lease() -> timedelta:
    """Return how long a claim holds a notice: well past one try's timeout, so no two workers send it at once."""
    return timedelta(seconds=max(60.0, 4 * float(getattr(settings, "NOTIFIER_TIMEOUT_S", 5))))


@transaction.atomic
def _claim(now):
    """Lease the most overdue due notice; return (notice, its new attempt), (notice, None) or None."""
    notice = (
        Notice.objects.select_for_update(skip_locked=True)
        .filter(status__in=[N.PENDING, N.SENDING], next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .first()
    )
    if notice is None:
        return None
    if notice.status == N.SENDING:  # the lease ran out: that try's answer never came back
        NoticeAttempt.objects.filter(notice=notice, outcome=Outcome.SENDING).update(
            outcome=Outcome.LOST, finished_at=now, detail=ERR_LOST
        )
        if notice.attempts >= max_attempts():
            _fail(notice, ERR_LOST, at=now)
            return notice, None
    notice.status, notice.attempts, notice.next_attempt_at = N.SENDING, notice.attempts + 1, now + lease()
    notice.save(update_fields=["status", "attempts", "next_attempt_at"])
    return notice, NoticeAttempt.objects.create(notice=notice, number=notice.attempts, started_at=now)


def _notifier():
    try:
        return get_notifier()
    except Exception:  # a misconfigured backend fails each try, and so shows on the console
        log.exception(ERR_BACKEND)
        return None


def _try(notifier, notice):
    """Call the gateway once; return (outcome, what it answered or the error)."""
    if notifier is None:
        return Outcome.ERROR, ERR_BACKEND
    message = Message(to=notice.recipient, level=notice.level, ticket=notice.ticket_id,
                      incident=notice.incident_id, text=notice.text)
    try:
        return Outcome.SENT, str(notifier.send(message, idempotency_key=notice.idempotency_key) or "")
    except Refused as exc:
        return Outcome.REFUSED, str(exc)
    except Exception as exc:  # whatever the gateway did, the notice stays in the outbox for another try
        log.warning("notice %s to %s: try %d failed: %s", notice.id, notice.recipient, notice.attempts, exc)
        return Outcome.ERROR, f"{type(exc).__name__}: {exc}"


@transaction.atomic
def _settle(notice, attempt, outcome, detail, *, at):
    """Record the try's answer; mark the notice sent, due again after its back-off, or failed."""
    detail = detail[:2000]
    NoticeAttempt.objects.filter(pk=attempt.pk).update(outcome=outcome, finished_at=at, detail=detail)
    if outcome == Outcome.SENT:
        fields = {"status": N.SENT, "sent_at": at, "next_attempt_at": None, "last_error": ""}
    elif outcome == Outcome.REFUSED or notice.attempts >= max_attempts():
        fields = {"status": N.FAILED, "failed_at": at, "next_attempt_at": None, "last_error": detail}
    else:
        fields = {"status": N.PENDING, "next_attempt_at": at + retry_delay(notice.attempts), "last_error": detail}
    won = Notice.objects.filter(pk=notice.pk, status=N.SENDING, attempts=notice.attempts).update(**fields)
    if won != 1:  # the lease ran out and a newer try holds the notice: its answer decides
        log.warning("notice %s: try %d answered after its lease ran out", notice.id, attempt.number)
        return
    for name, value in fields.items():
        setattr(notice, name, value)
    if notice.status == N.FAILED:
        _announce_failed(notice)


def _fail(notice, error, *, at):
    """Give up on the locked notice and tell the command center."""
    fields = {"status": N.FAILED, "failed_at": at, "next_attempt_at": None, "last_error": error}
    Notice.objects.filter(pk=notice.pk).update(**fields)
    for name, value in fields.items():
        setattr(notice, name, value)
    _announce_failed(notice)


def _announce_failed(notice):
    """Append `notice.failed`, for the command center only, and ring the doorbell after commit."""
    log.error("notice %s to %s for ticket %s failed for good after %d tries: %s",
              notice.id, notice.recipient, notice.ticket_id, notice.attempts, notice.last_error)
    publish_on_commit(events_append([notice_event("notice.failed", notice)]))
