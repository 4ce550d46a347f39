"""Who a user is in the command center: roles are auth groups (DESIGN §1)."""

from django.db import models


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", "调度员 Dispatcher"
    OPERATOR = "operator", "分中心处警员 Sub-center operator"
    LEADER = "leader", "领导 Leader"
    ADMIN = "admin", "管理员 Administrator"


def user_role(user):
    """Return the user's Role, or None for a user without one."""
    if not user or not user.is_authenticated:
        return None
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
