"""How each API call proves who it is: a token (machines) or the browser's session."""

import threading
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api.models import ApiToken, digest
from api.tokens import token_for_secret
from dispatch.models import OperatorPost
from dispatch.roles import operator_subcenter_id, user_role

ERR_BAD_TOKEN = gettext_lazy("invalid, expired or revoked token")
TOKEN_CACHE_S = 10  # a token's user and role are loaded again after this (a changed role shows within it)
TOKEN_RECHECK_S = 1.0  # revocation, expiry, a password change or deactivation is seen by every process within this


@dataclass
class Entry:
    loaded_at: float
    checked_at: float
    token: ApiToken


class CachedTokenAuthentication(TokenAuthentication):
    """Token authentication that keeps a token's user and role for a few seconds.

    Loading them costs three queries; a hit older than TOKEN_RECHECK_S costs one
    (ApiToken.still_valid), so another process's revocation is never missed for long.
    """

    cache = {}  # digest of the secret → Entry
    lock = threading.Lock()

    def authenticate_credentials(self, key):
        now, mark = time.monotonic(), digest(key)
        hit = self.cache.get(mark)
        if hit and now - hit.loaded_at < TOKEN_CACHE_S:
            return self._recheck(mark, hit, now)
        token = token_for_secret(key)
        if token is None:
            raise AuthenticationFailed(ERR_BAD_TOKEN)
        user_role(token.user), operator_subcenter_id(token.user)  # computed once, kept on the user
        with self.lock:
            if len(self.cache) > 10_000:
                self.cache.clear()
            self.cache[mark] = Entry(now, now, token)
        return token.user, token

    def _recheck(self, mark, hit, now):
        """Return a cached hit if still good: the expiry read in memory, the rest once a second."""
        token = hit.token
        if token.expires_at is None or token.expires_at > timezone.now():
            if now - hit.checked_at < TOKEN_RECHECK_S:
                return token.user, token
            if token.still_valid():
                hit.checked_at = now
                return token.user, token
        with self.lock:
            self.cache.pop(mark, None)
        raise AuthenticationFailed(ERR_BAD_TOKEN)


def forget_tokens(**kwargs):
    with CachedTokenAuthentication.lock:
        CachedTokenAuthentication.cache.clear()


for model in (ApiToken, get_user_model(), OperatorPost):
    post_save.connect(forget_tokens, sender=model, dispatch_uid=f"forget-tokens-save-{model.__name__}")
    post_delete.connect(forget_tokens, sender=model, dispatch_uid=f"forget-tokens-delete-{model.__name__}")
m2m_changed.connect(forget_tokens, sender=get_user_model().groups.through, dispatch_uid="forget-tokens-groups")
post_delete.connect(forget_tokens, sender=Group, dispatch_uid="forget-tokens-group")
