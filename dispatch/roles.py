"""Who a user is in the command center: roles are auth groups (docs/PROTOCOL.md, "Authentication and roles")."""

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", "调度员 Dispatcher"
    OPERATOR = "operator", "分中心处警员 Sub-center operator"
    LEADER = "leader", "领导 Leader"
    ADMIN = "admin", "管理员 Administrator"


def user_role(user):
    """Return the user's Role, or None for a user without one.

    Kept on the user object, which lives for one request or one stream connection: a changed
    role takes effect on the next request or reconnection.
    """
    if not user or not user.is_authenticated:
        return None
    if not hasattr(user, "_dispatch_role"):
        user._dispatch_role = _role_of(user)
    return user._dispatch_role


def _role_of(user):
    if user.is_superuser:
        return Role.ADMIN
    names = {group.name for group in user.groups.all()}
    for role in (Role.ADMIN, Role.DISPATCHER, Role.LEADER, Role.OPERATOR):
        if role.value in names:
            return role
    return None


def operator_subcenter_id(user):
    """Return the id of the sub-center an operator is bound to, or None."""
    post = getattr(user, "operator_post", None)
    return post.subcenter_id if post else None


def two_factor_required(user):
    """Tell whether this user's role must log in with a second factor (REQUIRE_2FA_ROLES, default `admin`).

    Here, beside the roles, because the pages, the API and the stream all ask it (docs/OPERATIONS.md,
    "Two factors"); verifying a code is api/two_factor.py's.
    """
    role = user_role(user)
    return role is not None and role.value in settings.REQUIRE_2FA_ROLES
