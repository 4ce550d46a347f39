"""The security audit (安全审计, issue #12 part 7): one record per login, failure, lockout, token, 2FA change,
denial and admin change — who, when, from where, what, with what outcome (docs/OPERATIONS.md, "Security audit").

A record is one INSERT: never on a dispatch hot path, and a failed login pays about a millisecond.
When its transaction commits, the deferred trigger in dispatch/sql/audit_sequencer.sql numbers it and
chains its hash, as for the event log; the signed checkpoints (v2) cover the chain's head.

"From where" is the client's address as config/proxy.py resolved it (REMOTE_ADDR). A caller with a
request passes it; a write with none at hand (a token revoked in the admin, an admin change) takes the
address of the request being served, which `audit_request` (the middleware in api/audit.py) keeps for
the request's duration. A write outside any request (a manage command) has an empty address.
"""

import contextvars
import hashlib
import json
import logging

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, empty
from psycopg.types.json import Jsonb

from dispatch.models import SecurityRecord

log = logging.getLogger("dispatch.audit")

GENESIS = "0" * 64

# What: the kinds recorded, and their outcomes.
LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login.failed"
LOGIN_LOCKOUT = "login.lockout"  # the failure that locked the account or address out
LOGIN_REFUSED = "login.refused"  # a login refused while locked out
TOKEN_ISSUED = "token.issued"
TOKEN_REVOKED = "token.revoked"
TWO_FACTOR_ENROLLED = "2fa.enrolled"
TWO_FACTOR_FAILED = "2fa.failed"
TWO_FACTOR_RESET = "2fa.reset"
ACCESS_DENIED = "access.denied"  # the API's 401 or 403
STREAM_REFUSED = "stream.refused"
ADMIN_CHANGE = "admin.change"

SUCCESS, FAILURE, LOCKED, REFUSED, DENIED = "success", "failure", "locked", "refused", "denied"

INSERT = (
    "INSERT INTO dispatch_securityrecord (at, kind, outcome, username, user_id, address, detail, body_hash,"
    " prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '')"
)

_request = contextvars.ContextVar("audit_request", default=None)


def audit_request(request):
    """Keep the request being served, for records written without one; return the token to reset it with."""
    return _request.set(request)


def audit_request_end(token):
    _request.reset(token)


def body_digest(*, at, kind, outcome, username, user_id, address, detail):
    """Return the SHA-256 over a record's content (the trigger chains it: dispatch/sql/audit_sequencer.sql)."""
    content = json.dumps(
        [kind, outcome, username, user_id, address, detail, at.isoformat()],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()


def link_digest(*, prev_hash, seq, body_hash):
    """Return a record's hash: its content's digest chained to its seq and the previous record's hash."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{body_hash}".encode()).hexdigest()


def request_address(request) -> str:
    """Return a request's client address (REMOTE_ADDR, resolved through TRUSTED_PROXIES by config/proxy.py)."""
    meta = getattr(request, "META", None) or {}
    return str(meta.get("REMOTE_ADDR") or "")


def security_record(*, kind: str, outcome: str, user=None, username: str = "", address: str | None = None,
                    request=None, detail: dict | None = None) -> None:
    """Write one audit record: who (user, or a username as typed), from where, what, outcome.

    `request` (or the request being served) gives the address unless `address` is given. Never
    raises: an audit write that fails is logged, and the caller's own answer goes on.
    """
    request = request if request is not None else _request.get()
    if address is None:
        address = request_address(request) if request is not None else ""
    if user is None and request is not None and kind in (ACCESS_DENIED, ADMIN_CHANGE, TOKEN_ISSUED, TOKEN_REVOKED):
        user = _resolved_user(request)
    if user is not None and getattr(user, "pk", None) is not None:
        username, user_id = user.get_username(), user.pk
    else:
        user_id = None
    row = {
        "at": timezone.now(), "kind": kind, "outcome": outcome, "username": str(username or "")[:150],
        "user_id": user_id, "address": address[:64],
        "detail": json.loads(json.dumps(detail or {}, default=str)),
    }
    body_hash = body_digest(**row)
    values = [row["at"], kind, outcome, row["username"], user_id, row["address"], Jsonb(row["detail"]), body_hash]
    try:
        if connection.in_atomic_block:  # a savepoint, so a failed write never poisons the caller's transaction
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(INSERT, values)
        else:  # autocommit: the INSERT is its own transaction, numbered as it commits
            with connection.cursor() as cursor:
                cursor.execute(INSERT, values)
    except DatabaseError:
        log.exception("could not write the security record %s %s for %r", kind, outcome, row["username"])


def _resolved_user(request):
    """Return the request's user if already known (never loads one: no query for the audit's sake).

    DRF puts the user its authentication found on the Django request; a session's user is a lazy
    object, used only once something has loaded it.
    """
    user = vars(request).get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def audit_head() -> tuple[int, str]:
    """Return the audit chain's committed head: (seq, hash); (0, GENESIS) when empty."""
    head = SecurityRecord.objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", "hash").first()
    return head or (0, GENESIS)
