"""Writes of users: one role each, an operator bound to one sub-center."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from dispatch.errors import Invalid
from dispatch.models import OperatorPost
from dispatch.roles import Role
from geo.models import SubCenter

ERR_UNKNOWN_ROLE = "unknown role {role!r}; one of: {roles}"
ERR_OPERATOR_NEEDS_SUBCENTER = "an operator needs --subcenter CODE"
ERR_SUBCENTER_ONLY_FOR_OPERATOR = "only an operator is bound to a sub-center"
ERR_UNKNOWN_SUBCENTER = "no sub-center with code {code!r}"


def _subcenter_for(role, subcenter_code):
    """Return the sub-center an account of this role is bound to (operators only), or raise Invalid."""
    if role not in Role.values:
        raise Invalid(ERR_UNKNOWN_ROLE.format(role=role, roles=", ".join(Role.values)), field="role")
    if role != Role.OPERATOR:
        if subcenter_code:
            raise Invalid(ERR_SUBCENTER_ONLY_FOR_OPERATOR, field="subcenter")
        return None
    if not subcenter_code:
        raise Invalid(ERR_OPERATOR_NEEDS_SUBCENTER, field="subcenter")
    subcenter = SubCenter.objects.filter(code=subcenter_code).first()
    if subcenter is None:
        raise Invalid(ERR_UNKNOWN_SUBCENTER.format(code=subcenter_code), field="subcenter")
    return subcenter


def _check_password(password, user):
    """Raise Invalid naming `password` unless it passes the validators of AUTH_PASSWORD_VALIDATORS."""
    try:
        validate_password(password, user)
    except ValidationError as problem:
        raise Invalid(" ".join(problem.messages), field="password") from None


@transaction.atomic
def user_add(*, username: str, role: str, subcenter_code: str | None = None, password: str | None = None):
    """Create or update a user with one role; return (user, password)."""
    subcenter = _subcenter_for(role, subcenter_code)
    password = password or secrets.token_urlsafe(12)  # 16 characters, about 96 bits
    user = get_user_model().objects.filter(username=username).first() or get_user_model()(username=username)
    _check_password(password, user)
    user.set_password(password)
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
    user.__dict__.pop("_dispatch_role", None)
    OperatorPost.objects.filter(user=user).exclude(subcenter=subcenter).delete()
    if subcenter:
        OperatorPost.objects.update_or_create(user=user, defaults={"subcenter": subcenter})
    return user, password
