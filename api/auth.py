"""Tokens for machine clients: username and password in, a new token out (once); revoke your own."""

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from api import serializers as s
from api import shapes
from api.base import ERRORS, ApiView
from api.lockout import LockedOut, is_locked_out, retry_after
from api.models import ApiToken
from api.tokens import token_issue, token_revoke
from api.two_factor import is_enrolled, second_factor_verify, two_factor_required
from dispatch.errors import Invalid

ERR_BAD_CREDENTIALS = gettext_lazy("wrong username or password")
ERR_NO_TOKEN = gettext_lazy("this request carries no API token (Authorization: Token …)")
ERR_OTP_REQUIRED = gettext_lazy("this account logs in with a second factor: send `otp`, the code of your authenticator app or a recovery code")
ERR_OTP_NOT_ENROLLED = gettext_lazy("this account must set up its second factor first: log in once in the browser to enrol")
ERR_OTP_WRONG = gettext_lazy("wrong or already used `otp` code")
LOCKED = OpenApiResponse(shapes.ErrorsOut, description="too many failed logins: locked out, see Retry-After")


class LoginRateThrottle(AnonRateThrottle):
    """Slow down password guessing: a few attempts a minute per address (REMOTE_ADDR, see config/proxy.py)."""

    scope = "login"
    rate = "20/min"


class LoginAccountThrottle(SimpleRateThrottle):
    """Slow down guessing one account's password from many addresses."""

    scope = "login-account"
    rate = "10/min"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if not isinstance(username, str) or not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": username.lower()[:150]}


class TokenView(ApiView):
    """POST: a new token for a username and password. DELETE: revoke the token the call carries."""

    def logging_in(self):
        """Tell whether this is a login (POST); the schema generator asks with no request at all."""
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        return [] if self.logging_in() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self.logging_in() else [IsAuthenticated()]

    def get_throttles(self):
        return [LoginRateThrottle(), LoginAccountThrottle()] if self.logging_in() else []

    @extend_schema(
        operation_id="auth_token", request=s.TokenIn, auth=[],
        responses={200: shapes.TokenOut, **{code: ERRORS[code] for code in (400, 413, 415, 503)}, 429: LOCKED},
    )
    def post(self, request):
        """Return a new API token, shown this once; it expires after TOKEN_TTL seconds.

        A role in REQUIRE_2FA_ROLES (admin by default) must also send `otp`: without it, or with a wrong
        or used code, the answer is 400 naming `otp` (wrong codes count toward the lockout, 429).
        """
        data = self.parse(s.TokenIn, request.data)
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            if is_locked_out(request._request):
                raise LockedOut(retry_after(request._request, data["username"]))
            raise Invalid(ERR_BAD_CREDENTIALS)
        if two_factor_required(user):
            self.second_factor(request, user, data.get("otp"))
        token, secret = token_issue(user=user)
        return Response({"token": secret, "expires_at": token.expires_at})

    def second_factor(self, request, user, code):
        """Refuse (400 naming `otp`) a user who must have two factors without a valid code; failures count in the lockout."""
        if not is_enrolled(user):
            raise Invalid(ERR_OTP_NOT_ENROLLED, field="otp")
        if not code:
            raise Invalid(ERR_OTP_REQUIRED, field="otp")
        if second_factor_verify(user=user, code=code, request=request._request, where="api") is None:
            if is_locked_out(request._request):
                raise LockedOut(retry_after(request._request, user.get_username()))
            raise Invalid(ERR_OTP_WRONG, field="otp")

    @extend_schema(operation_id="auth_token_revoke", request=None, responses={204: None, 400: ERRORS[400], 401: ERRORS[401]})
    def delete(self, request):
        """Revoke the token this call is made with; it is refused everywhere from now on."""
        if not isinstance(request.auth, ApiToken):
            raise Invalid(ERR_NO_TOKEN)
        token_revoke(token_id=request.auth.pk)
        return Response(status=204)
