"""Who is on the other end of a stream, and may they connect from where they are."""

from urllib.parse import parse_qs, urlparse

from django.conf import settings
from rest_framework.authtoken.models import Token

from dispatch.roles import operator_subcenter_id, user_role


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


def who(scope):
    """Return (user, role, operator's sub-center id) for a connection, or (None, None, None)."""
    key = _token_key(scope)
    if key:
        token = Token.objects.select_related("user").filter(key=key, user__is_active=True).first()
        user = token.user if token else None
    else:
        user = scope.get("user")
        user = user if user is not None and user.is_authenticated else None
    if user is None:
        return None, None, None
    return user, user_role(user), operator_subcenter_id(user)
