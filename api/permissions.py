"""Who may call what: each view names the roles that may read it and the roles that may write.

Finer rules (an operator only on their own sub-center's tickets, who may take which
lifecycle action) are enforced by the services and selectors themselves; this is the
first gate, so that a leader is read-only everywhere and a user without a role gets nothing.
"""

from django.utils.translation import gettext_lazy
from rest_framework.permissions import SAFE_METHODS, BasePermission

from dispatch.roles import Role, user_role

EVERYONE = frozenset(Role)
COMMAND_CENTER = frozenset({Role.DISPATCHER, Role.LEADER, Role.ADMIN})
DISPATCHERS = frozenset({Role.DISPATCHER, Role.ADMIN})
TICKET_HANDLERS = frozenset({Role.DISPATCHER, Role.OPERATOR, Role.ADMIN})

ERR_NO_ROLE = gettext_lazy("this account has no role in the command center")
ERR_READ_ONLY = gettext_lazy("a {role} cannot do this")


class RolePermission(BasePermission):
    """Allow a safe method to view.read_roles and any other method to view.write_roles."""

    message = ERR_NO_ROLE

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        role = user_role(request.user)
        if role is None:
            self.message = ERR_NO_ROLE
            return False
        allowed = view.read_roles if request.method in SAFE_METHODS else view.write_roles
        self.message = ERR_READ_ONLY.format(role=role.value)
        return role in allowed
