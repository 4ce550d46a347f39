"""How each API call proves who it is: a token (machines) or the browser's session."""

import threading
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from dispatch.models import OperatorPost
from dispatch.roles import operator_subcenter_id, user_role

TOKEN_CACHE_S = 10  # a revoked token, or a changed user, is refused by every process within this


class CachedTokenAuthentication(TokenAuthentication):
    """Token authentication that remembers a token's user and role for a few seconds.

    Looking them up costs two queries on every call. This process forgets at once when a
    token or a user changes here; other processes within TOKEN_CACHE_S.
    """

    cache = {}  # token key → (monotonic time, (user, token))
    lock = threading.Lock()

    def authenticate_credentials(self, key):
        now = time.monotonic()
        hit = self.cache.get(key)
        if hit and now - hit[0] < TOKEN_CACHE_S:
            return hit[1]
        user, token = super().authenticate_credentials(key)
        user_role(user), operator_subcenter_id(user)  # computed once, kept on the user
        with self.lock:
            if len(self.cache) > 10_000:
                self.cache.clear()
            self.cache[key] = (now, (user, token))
        return user, token


def forget_tokens(**kwargs):
    with CachedTokenAuthentication.lock:
        CachedTokenAuthentication.cache.clear()


for model in (Token, get_user_model(), OperatorPost):
    post_save.connect(forget_tokens, sender=model, dispatch_uid=f"forget-tokens-save-{model.__name__}")
    post_delete.connect(forget_tokens, sender=model, dispatch_uid=f"forget-tokens-delete-{model.__name__}")
m2m_changed.connect(forget_tokens, sender=get_user_model().groups.through, dispatch_uid="forget-tokens-groups")
post_delete.connect(forget_tokens, sender=Group, dispatch_uid="forget-tokens-group")
