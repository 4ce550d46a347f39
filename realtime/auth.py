"""Who is on the other end of a stream, and may they connect from where they are."""

from urllib.parse import parse_qs, urlparse

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from dispatch.roles import operator_subcenter_id, two_factor_required, user_role

ERR_LOCKED_OUT = "too many failed logins from this address; try again in {seconds} s"


class LockedOut(Exception):
    """The lockout refuses this address for now (too many failed logins)."""


def _header(scope, name):
    for key, value in scope.get("headers", []):
        if key.decode("latin-1").lower() == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope):
    """Allow no Origin (a machine client) or an Origin equal to our own host or a trusted one."""
    origin = _header(scope, "origin")
    if not origin:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    return urlparse(origin).netloc.lower() == (_header(scope, "host") or "").lower()


def _token_key(scope):
    header = _header(scope, "authorization") or ""
    if header.lower().startswith("token "):
        return header[6:].strip()
    return parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]


def _login_request(scope):
    """Return an HttpRequest standing for the connection, for the lockout to count (address, path, agent)."""
    request = HttpRequest()
    request.path = request.path_info = scope.get("path", "")
    request.META = {
        "REMOTE_ADDR": (scope.get("client") or [""])[0],  # resolved through TRUSTED_PROXIES (config/proxy.py)
        "PATH_INFO": request.path,
        "HTTP_USER_AGENT": _header(scope, "user-agent") or "",
    }
    return request


def _token_user(scope, key):
    """Return the token's user (carrying `api_token`), or None; raise LockedOut for a locked-out address."""
    request = _login_request(scope)
    user = authenticate(request, token=key)  # api.backends.TokenBackend, behind the lockout backend
    if user is None and getattr(request, "axes_locked_out", False):
        raise LockedOut(ERR_LOCKED_OUT.format(seconds=int(get_cool_off(request).total_seconds())))
    return user


def who(scope):
    """Return (user, role, operator's sub-center id) for a connection, or (None, None, None)."""
    key = _token_key(scope)
    if key:
        user = _token_user(scope, key)
    else:
        user = scope.get("user")
        user = user if user is not None and user.is_authenticated else None
        if user is not None and two_factor_required(user) and not session_verified(scope.get("session"), user):
            user = None  # a session that has not passed its second factor is no login (docs/OPERATIONS.md)
    if user is None:
        return None, None, None
    return user, user_role(user), operator_subcenter_id(user)


def session_verified(session, user):
    """Tell whether a session was verified by a confirmed device of this user (what django-otp's middleware checks)."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def still_allowed(user):
    """Tell, in one query, whether a stream's credentials still hold: its token, or its user's account."""
    token = getattr(user, "api_token", None)
    if token is not None:
        return token.still_valid()
    return get_user_model().objects.filter(pk=user.pk, is_active=True).exists()
