"""Sign the event log's head (签名检查点) at an interval and every N events, and copy each checkpoint to a file.

The key and the file live outside the database (docs/OPERATIONS.md, "Signed checkpoints"): an owner
who rewrites the log, re-hashes it and fixes the event head still cannot sign the new hashes, nor
rewrite the file unseen.
"""

import fcntl
import functools
import logging
import os
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from dispatch import signing
from dispatch.models import Checkpoint, EventHead
from dispatch.selectors.checkpoints import checkpoint_point, checkpoints_file
from dispatch.services.audit import audit_head

log = logging.getLogger("dispatch.checkpoints")

TAIL_BYTES = 4096  # a checkpoint line is ~250 bytes: the last one is in the file's last 4 KiB


def checkpoint_sign_due(*, now: datetime) -> Checkpoint | None:
    """Sign the log's head if CHECKPOINT_INTERVAL_S passed or CHECKPOINT_EVERY events came since the last checkpoint.

    Return the new checkpoint, or None: nothing new, not due yet, or no signing key.
    """
    key_path = Path(settings.EVENT_SIGNING_KEY)
    if not key_path.exists():
        _warn_once(f"no event signing key at {key_path}: the event log is not being signed")
        return None
    heads = EventHead.objects.values_list("seq", flat=True).get(pk=1), audit_head()[0]
    if not _due(*heads, _last_checkpoint(), now):
        return None  # checked without a lock first: most passes end here
    with transaction.atomic():
        # The head's row lock: checkpoints are signed one at a time, in seq order, of a committed head.
        head = EventHead.objects.select_for_update().get(pk=1)
        audit_seq, audit_hash = audit_head()  # v2: the security audit's committed head too
        if not _due(head.seq, audit_seq, _last_checkpoint(), now):
            return None  # another worker signed it meanwhile
        point = signing.checkpoint_sign(signing.key_load(key_path), seq=head.seq, hash=head.last_hash, signed_at=now,
                                        audit_seq=audit_seq, audit_hash=audit_hash)
        checkpoint = Checkpoint.objects.create(**{**point, "signed_at": now})
    checkpoints_copy()
    return checkpoint


def checkpoints_copy() -> int:
    """Append to the checkpoints file every checkpoint of the table signed after its last line; return how many."""
    path = checkpoints_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)  # workers on one host copy in turn, so lines stay in seq order
            torn, (last, last_audit) = _file_tail(file)
            after = Q(seq__gt=last) | Q(seq=last, audit_seq__gt=last_audit)  # an audit-only checkpoint keeps the seq
            points = Checkpoint.objects.filter(after).order_by("id").values(*signing.FIELDS_V2)
            lines = [signing.checkpoint_line(checkpoint_point(p)) for p in points]
            file.write((("\n" if torn else "") + "".join(lines)).encode())
            file.flush()
            os.fsync(file.fileno())
    except OSError:  # signing goes on in the table; the next checkpoint copies what this one could not
        log.exception("could not copy checkpoints to %s", path)
        return 0
    return len(lines)


def _last_checkpoint():
    return Checkpoint.objects.order_by("-id").only("seq", "audit_seq", "signed_at").first()  # signed in order


def _due(head_seq, audit_seq, last, now):
    """Due when there are new events or new security records: at once for the first, then by interval or count."""
    if last is None:
        return head_seq > 0 or audit_seq > 0
    new_events, new_records = head_seq - last.seq, audit_seq - (last.audit_seq or 0)
    if new_events <= 0 and new_records <= 0:
        return False
    elapsed = (now - last.signed_at).total_seconds()
    return new_events >= settings.CHECKPOINT_EVERY or elapsed >= settings.CHECKPOINT_INTERVAL_S


def _file_tail(file):
    """Return whether the file's last line is torn (no newline), and the seq of its last whole checkpoint."""
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - TAIL_BYTES))
    tail = file.read().decode(errors="replace")
    torn = size > 0 and not tail.endswith("\n")  # a copy cut short by a crash: the next line starts afresh
    for line in reversed(tail.splitlines()):
        point = signing.checkpoint_parse(line)
        if point is not None:
            return torn, signing.order_key(point)
    return torn, (-1, -1)


@functools.cache
def _warn_once(message):
    log.warning(message)
