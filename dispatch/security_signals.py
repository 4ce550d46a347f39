"""The security audit's sources: the signals it listens to, and the three 2FA signals other code sends.

Two-factor authentication is added elsewhere (the login pages, the API); it only sends, with the
request that caused it:

    from dispatch.security_signals import two_factor_enrolled
    two_factor_enrolled.send(sender=SomeView, request=request, user=user, method="totp")

    two_factor_failed.send(sender=..., request=request, user=user)          # a wrong second factor
    two_factor_reset.send(sender=..., request=request, user=user, by=admin)  # removed or reset

Extra keyword arguments (method, by, …) are kept in the record's detail. This module sits in
dispatch so that api/ and frontend/ may both import it; connected in DispatchConfig.ready().
"""

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry, LogEntryManager
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import Signal

from dispatch.services import audit

two_factor_enrolled = Signal()  # kwargs: request, user, and any detail (method, …)
two_factor_failed = Signal()
two_factor_reset = Signal()

ADMIN_ACTIONS = {ADDITION: "add", CHANGE: "change", DELETION: "delete"}


def _detail(request, **extra):
    detail = {key: value for key, value in extra.items() if value not in (None, "")}
    path = getattr(request, "path", None)
    if path:
        detail["path"] = path
    return detail


def on_logged_in(sender, request, user, **kwargs):
    audit.security_record(kind=audit.LOGIN, outcome=audit.SUCCESS, user=user, request=request,
                          detail=_detail(request))


def on_logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.security_record(kind=audit.LOGOUT, outcome=audit.SUCCESS, user=user, request=request,
                              detail=_detail(request))


def on_login_failed(sender, credentials, request=None, **kwargs):
    """A wrong password or token; one refused by, or tripping, the lockout is recorded by on_locked_out."""
    if getattr(request, "axes_locked_out", False):
        return
    audit.security_record(kind=audit.LOGIN_FAILED, outcome=audit.FAILURE, username=_typed(credentials),
                          request=request, detail=_detail(request, credential=_credential(credentials)))


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """django-axes: the failure that locked the account or address out, or a login refused while locked out."""
    tripped = getattr(request, "axes_failures_since_start", None) is not None
    audit.security_record(
        kind=audit.LOGIN_LOCKOUT if tripped else audit.LOGIN_REFUSED,
        outcome=audit.LOCKED if tripped else audit.REFUSED, username=username or "", request=request,
        address=ip_address or None, detail=_detail(request),
    )


def _typed(credentials):
    username = (credentials or {}).get("username")
    return username if isinstance(username, str) else ""


def _credential(credentials):
    """Name the kind of credential tried, never its value (Django already masks passwords)."""
    return "token" if "token" in (credentials or {}) else "password"


def _two_factor(kind, outcome):
    def receiver(sender, request=None, user=None, **extra):
        extra.pop("signal", None)
        by = extra.pop("by", None)
        if by is not None:
            extra["by"] = getattr(by, "username", str(by))
        audit.security_record(kind=kind, outcome=outcome, user=user, request=request, detail=_detail(request, **extra))

    return receiver


def on_admin_log(sender, instance, created, **kwargs):
    if created:
        _admin_change(instance)


def _admin_change(entry):
    audit.security_record(
        kind=audit.ADMIN_CHANGE, outcome=audit.SUCCESS, user=entry.user,
        detail={
            "action": ADMIN_ACTIONS.get(entry.action_flag, str(entry.action_flag)),
            "model": entry.content_type.model if entry.content_type_id else "",
            "app": entry.content_type.app_label if entry.content_type_id else "",
            "object_id": entry.object_id or "", "object": entry.object_repr,
            "message": entry.get_change_message(),
        },
    )


def _log_actions_recorded(log_actions):
    """The admin logs a deletion of several objects with bulk_create, which sends no post_save: record those too."""

    def wrapper(self, *args, **kwargs):
        entries = log_actions(self, *args, **kwargs)
        if isinstance(entries, list):  # bulk_create's list; a single entry came through post_save
            for entry in entries:
                _admin_change(entry)
        return entries

    wrapper.audited = True
    return wrapper


_RECEIVERS = [
    (on_logged_in, user_logged_in, None),
    (on_logged_out, user_logged_out, None),
    (on_login_failed, user_login_failed, None),
    (_two_factor(audit.TWO_FACTOR_ENROLLED, audit.SUCCESS), two_factor_enrolled, None),
    (_two_factor(audit.TWO_FACTOR_FAILED, audit.FAILURE), two_factor_failed, None),
    (_two_factor(audit.TWO_FACTOR_RESET, audit.SUCCESS), two_factor_reset, None),
    (on_admin_log, post_save, LogEntry),
]


def connect():
    """Connect the audit's receivers (DispatchConfig.ready)."""
    from axes.signals import user_locked_out

    for index, (receiver, signal, sender) in enumerate(_RECEIVERS):
        signal.connect(receiver, sender=sender, weak=False, dispatch_uid=f"security-audit-{index}")
    user_locked_out.connect(on_locked_out, weak=False, dispatch_uid="security-audit-lockout")
    if not getattr(LogEntryManager.log_actions, "audited", False):
        LogEntryManager.log_actions = _log_actions_recorded(LogEntryManager.log_actions)
