"""Tokens for machine clients: username and password in, a token out."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from api import serializers as s
from api import shapes
from api.base import ERRORS, ApiView
from dispatch.errors import Invalid

ERR_BAD_CREDENTIALS = "wrong username or password"


class LoginRateThrottle(AnonRateThrottle):
    """Slow down password guessing: a few attempts a minute per address."""

    scope = "login"
    rate = "20/min"


class TokenView(ApiView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        operation_id="auth_token", request=s.TokenIn, auth=[],
        responses={200: shapes.TokenOut, **{code: ERRORS[code] for code in (400, 413, 415, 429, 503)}},
    )
    def post(self, request):
        """Return the caller's API token (the same one until it is revoked)."""
        data = self.parse(s.TokenIn, request.data)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            raise Invalid(ERR_BAD_CREDENTIALS)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

