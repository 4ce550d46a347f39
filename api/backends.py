"""An authentication backend for API tokens, so a token check goes through the lockout like a password."""

from django.contrib.auth.backends import BaseBackend

from api.tokens import token_for_secret


class TokenBackend(BaseBackend):
    """Authenticate `token=<secret>`; the user carries the token (`user.api_token`) for later checks.

    No sessions and no permissions come from here (BaseBackend answers none), so the admin's
    permission checks do not query twice.
    """

    def authenticate(self, request, token=None, **kwargs):
        if not token:
            return None
        found = token_for_secret(token)
        if found is None:
            return None
        found.user.api_token = found
        return found.user
