"""Every write of the dispatch app: one function each, keyword-only, one transaction."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from dispatch.models import OperatorPost
from dispatch.roles import Role
from geo.models import SubCenter

ERR_UNKNOWN_ROLE = "unknown role {role!r}; one of: {roles}"
ERR_OPERATOR_NEEDS_SUBCENTER = "an operator needs --subcenter CODE"
ERR_SUBCENTER_ONLY_FOR_OPERATOR = "only an operator is bound to a sub-center"
ERR_UNKNOWN_SUBCENTER = "no sub-center with code {code!r}"


@transaction.atomic
def user_add(*, username: str, role: str, subcenter_code: str | None = None, password: str | None = None):
    """Create or update a user with one role; return (user, password)."""
    if role not in Role.values:
        raise ValueError(ERR_UNKNOWN_ROLE.format(role=role, roles=", ".join(Role.values)))
    subcenter = None
    if role == Role.OPERATOR:
        if not subcenter_code:
            raise ValueError(ERR_OPERATOR_NEEDS_SUBCENTER)
        subcenter = SubCenter.objects.filter(code=subcenter_code).first()
        if subcenter is None:
            raise ValueError(ERR_UNKNOWN_SUBCENTER.format(code=subcenter_code))
    elif subcenter_code:
        raise ValueError(ERR_SUBCENTER_ONLY_FOR_OPERATOR)
    password = password or secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role)[0]])
    OperatorPost.objects.filter(user=user).exclude(subcenter=subcenter).delete()
    if subcenter:
        OperatorPost.objects.update_or_create(user=user, defaults={"subcenter": subcenter})
    return user, password
