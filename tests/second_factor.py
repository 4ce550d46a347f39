"""Second factors for tests that log in people whose role must have one (admins, by default).

The tests keep REQUIRE_2FA_ROLES as deployed. A test that skips the password with force_login skips
typing the code the same way: the user gets a real confirmed TOTP device and the session is marked
verified by it, exactly as django_otp.login() does after a good code. Browser logins type a real
recovery code into the real page.
"""

import secrets
import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice


def give_second_factor(user) -> TOTPDevice:
    """Return the user's confirmed TOTP device, made now (with an empty set of recovery codes) if there is none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
        StaticDevice.objects.get_or_create(user=user, name="recovery codes", confirmed=True)
    return device


def verified_login(client, user):
    """force_login, with the session verified by the user's (real) TOTP device."""
    client.force_login(user)
    device = give_second_factor(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def recovery_code(username) -> str:
    """Add one recovery code to the user's devices (enrolling them if needed) and return it."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    give_second_factor(user)
    static = StaticDevice.objects.get(user=user)
    code = secrets.token_hex(5)
    StaticToken.objects.create(device=static, token=code)
    return code


def totp_code(key_hex: str, *, steps_ahead: int = 0) -> str:
    """Return the code of a TOTP key (hex, as django-otp stores it) now, or some steps ahead (within tolerance)."""
    totp = TOTP(bytes.fromhex(key_hex))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"
