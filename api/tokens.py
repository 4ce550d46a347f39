"""Writes and reads of API tokens: issue (the secret is returned once), verify, revoke."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, digest
from dispatch.errors import Invalid, NotFound
from dispatch.roles import Role, operator_subcenter_id, user_role
from dispatch.services import audit

ERR_NOT_OPERATOR = "a device token belongs to an operator; {username!r} is not one"
ERR_NO_USER = "no user {username!r}"
ERR_NO_TOKEN = "no token {id}"


def token_issue(*, user) -> tuple[ApiToken, str]:
    """Issue a person's token that expires after TOKEN_TTL seconds; return (token, secret)."""
    expires_at = timezone.now() + timedelta(seconds=settings.TOKEN_TTL)
    return _create(user=user, kind=ApiToken.Kind.PERSON, expires_at=expires_at)


def device_owner(username: str):
    """Return the operator a device token may be issued to, or raise Invalid naming `user`."""
    user = get_user_model().objects.select_related("operator_post").filter(username=username).first()
    if user is None:
        raise Invalid(ERR_NO_USER.format(username=username), field="user")
    if user_role(user) != Role.OPERATOR or operator_subcenter_id(user) is None:
        raise Invalid(ERR_NOT_OPERATOR.format(username=username), field="user")
    return user


@transaction.atomic
def device_token_issue(*, username: str, name: str = "") -> tuple[ApiToken, str]:
    """Issue a terminal's token, bound to an operator and their sub-center, valid until revoked."""
    user = device_owner(username)
    return _create(user=user, kind=ApiToken.Kind.DEVICE, name=name, subcenter_id=operator_subcenter_id(user))


def _create(**fields):
    secret = secrets.token_urlsafe(32)  # 256 bits: a plain SHA-256 digest cannot be searched backwards
    token = ApiToken.objects.create(digest=digest(secret), prefix=secret[:8], **fields)
    # A person's token: that person logged in. A device token: whoever issued it (the admin, or the server).
    person = token.user if token.kind == ApiToken.Kind.PERSON else None
    audit.security_record(kind=audit.TOKEN_ISSUED, outcome=audit.SUCCESS, user=person,
                          detail={**_described(token), "owner": token.user.get_username()})
    return token, secret


def _described(token):
    """What the audit keeps of a token: never its secret, only what tells it apart."""
    return {"token_id": token.pk, "prefix": token.prefix, "token_kind": token.kind, "name": token.name}


def token_for_secret(secret: str) -> ApiToken | None:
    """Return the live token with this secret, its user and operator post loaded, or None."""
    token = (
        ApiToken.objects.select_related("user", "user__operator_post")
        .filter(digest=digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or (token.expires_at and token.expires_at <= timezone.now()):
        return None
    post = getattr(token.user, "operator_post", None)
    return token if token.fits_post(post.subcenter_id if post else None) else None


@transaction.atomic
def token_revoke(*, token_id: int) -> bool:
    """Revoke one token; return False if it was revoked already."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None:
        raise NotFound(ERR_NO_TOKEN.format(id=token_id), field="token")
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])  # post_save: this process forgets it at once
    audit.security_record(kind=audit.TOKEN_REVOKED, outcome=audit.SUCCESS,
                          detail={**_described(token), "owner": token.user.get_username()})
    return True


def person_tokens_revoke(*, user) -> int:
    """Revoke every live token of a person (not their terminals'); return how many."""
    live = ApiToken.objects.filter(user=user, kind=ApiToken.Kind.PERSON, revoked_at__isnull=True)
    return live.update(revoked_at=timezone.now())


class PasswordChangeEndsTokens:
    """Not a rule on passwords: Django calls password_changed() on each validator after a real change.

    A hash upgraded at login (more iterations) is no change, so tokens survive it.
    """

    def validate(self, password, user=None):
        pass

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            person_tokens_revoke(user=user)

    def get_help_text(self):
        return ""


def device_tokens():
    """Return the device tokens, newest first, with their operator and sub-center."""
    return ApiToken.objects.filter(kind=ApiToken.Kind.DEVICE).select_related("user", "subcenter").order_by("-id")
