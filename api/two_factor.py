"""Second factors (TOTP and single-use recovery codes, django-otp): enrol, verify, reset.

Who must have one is `dispatch.roles.two_factor_required` (REQUIRE_2FA_ROLES). The pages
(frontend/two_factor.py) and the token endpoint (api/auth.py) call these functions; nothing here
knows of HTTP beyond handing the request to the lockout.

Hook points for other modules (e.g. an audit log): the signals below, sent after the change is
committed. Every one is sent with `user` and `request` (None from a command); `two_factor_failed`
also with `where` ("page" or "api"), `two_factor_reset` also with `by` (who reset, or None).
"""

import secrets

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from dispatch.roles import two_factor_required
from dispatch.security_signals import two_factor_enrolled, two_factor_failed, two_factor_reset

__all__ = [
    "two_factor_required", "two_factor_enrolled", "two_factor_failed", "two_factor_reset", "two_factor_verified",
    "is_enrolled", "enrolment_device", "enrolment_confirm", "second_factor_verify", "second_factor_reset",
    "wait_seconds", "is_locked_out", "RECOVERY_CODES",
]

two_factor_verified = Signal()  # user, request, device: a login's second factor accepted
# two_factor_enrolled (user, request: a TOTP device confirmed, recovery codes issued),
# two_factor_failed (user, request, where: a wrong, replayed or throttled code) and two_factor_reset
# (user, request, by: every device deleted) are the audit's (dispatch.security_signals): sent here.

RECOVERY_CODES = 10
ENROLMENT = "enrolment"  # the name of a TOTP device not confirmed yet
AUTHENTICATOR = "authenticator"


def is_enrolled(user) -> bool:
    """Tell whether the user has a confirmed TOTP device (recovery codes alone are not an enrolment)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def enrolment_device(user) -> TOTPDevice:
    """Return the user's unconfirmed TOTP device, made now if there is none (a reload shows the same secret)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    return device or TOTPDevice.objects.create(user=user, name=ENROLMENT, confirmed=False)


def _recovery_code() -> str:
    return secrets.token_hex(5)  # 10 hex digits: 40 bits each, single use, throttled


def enrolment_confirm(*, user, code: str, request=None) -> list[str] | None:
    """Confirm the user's pending TOTP device with a code from it; return the new recovery codes, or None.

    On success the session (if any) is verified by the new device, earlier devices and recovery codes
    are replaced, and `two_factor_enrolled` is sent. A wrong code is not counted by the lockout: the
    person enrolling has passed the password and sees the secret; there is nothing to guess.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("id").first()
        if device is None or is_enrolled(user):
            return None
        if not device.verify_token(code.strip()):
            device.throttle_reset()  # the pending secret is on the person's screen: no delay to enforce
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        StaticDevice.objects.filter(user=user).delete()
        device.confirmed, device.name = True, AUTHENTICATOR
        device.save(update_fields=["confirmed", "name"])
        static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=static, token=c) for c in codes)
    if request is not None:
        otp_login(request, device)
    two_factor_enrolled.send(sender=TOTPDevice, user=user, request=request)
    return codes


def wait_seconds(user) -> int:
    """Return how long the user's devices refuse every code after failures (django-otp's doubling delay), or 0."""
    waits = [0]
    for device in [*TOTPDevice.objects.filter(user=user, confirmed=True), *StaticDevice.objects.filter(user=user)]:
        allowed, info = device.verify_is_allowed()
        if not allowed and device.throttling_failure_timestamp is not None:
            delay = device.get_throttle_factor() * 2 ** (device.throttling_failure_count - 1)
            left = delay - (timezone.now() - device.throttling_failure_timestamp).total_seconds()
            waits.append(max(1, int(left + 0.999)))
    return max(waits)


def second_factor_verify(*, user, code: str, request, where: str):
    """Check a TOTP code (or a recovery code, used up) of an enrolled user; return the device or None.

    A failure is counted by the lockout (django-axes, as a failed login of this account from this
    address) and sent as `two_factor_failed`; each device also delays the next try after a failure
    (1 s, 2 s, 4 s … until a code is accepted), which a correct password does not clear.
    """
    code = (code or "").strip().replace(" ", "")
    device = None
    if code:
        with transaction.atomic():
            for candidate in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if candidate.verify_token(code):
                    device = candidate
                    break
            if device is None:
                for candidate in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
                    if candidate.verify_token(code):
                        device = candidate
                        break
    if device is None:
        # django-axes records it as a failed login: the same count, lockout and audit rows as a wrong password.
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
        two_factor_failed.send(sender=TOTPDevice, user=user, request=request, where=where)
        return None
    if request is not None and hasattr(request, "session"):
        otp_login(request, device)
    two_factor_verified.send(sender=TOTPDevice, user=user, request=request, device=device)
    return device


def is_locked_out(request, user) -> bool:
    """Tell whether the lockout refuses this account or address now."""
    return not AxesProxyHandler.is_allowed(request, {"username": user.get_username()})


def second_factor_reset(*, user, by=None, request=None) -> int:
    """Delete every TOTP device and recovery code of the user; return how many devices went.

    Sessions verified by a deleted device stop being verified on their next request (django-otp's
    middleware drops a session's device that no longer exists), so the user enrols again.
    """
    with transaction.atomic():
        deleted = TOTPDevice.objects.filter(user=user).delete()[1].get("otp_totp.TOTPDevice", 0)
        deleted += StaticDevice.objects.filter(user=user).delete()[1].get("otp_static.StaticDevice", 0)
    two_factor_reset.send(sender=TOTPDevice, user=user, request=request, by=by)
    return deleted

