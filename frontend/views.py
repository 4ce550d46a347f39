"""The three screens (console, terminal, dashboard), the login page and the daily bulletin; pages read selectors."""

from datetime import date
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone

from dispatch import selectors
from dispatch.roles import Role, operator_subcenter_id, user_role

SCREEN_OF_ROLE = {
    Role.DISPATCHER: "frontend:console",
    Role.ADMIN: "frontend:console",
    Role.OPERATOR: "frontend:terminal",
    Role.LEADER: "frontend:dashboard",
}
LOGIN = reverse_lazy("frontend:login")
CONSOLE_ROLES = (Role.DISPATCHER, Role.ADMIN)
TERMINAL_ROLES = (Role.OPERATOR,)
DASHBOARD_ROLES = (Role.LEADER, Role.DISPATCHER, Role.ADMIN)


def role_required(*roles):
    """Send a visitor to the login page, and refuse (403) a user whose role is not one of `roles`."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), login_url=LOGIN)
            role = user_role(request.user)
            if role not in roles:
                raise PermissionDenied
            request.role = role
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def home(request):
    """Send each role to its screen."""
    if not request.user.is_authenticated:
        return redirect(LOGIN)
    target = SCREEN_OF_ROLE.get(user_role(request.user))
    if target is None:
        raise PermissionDenied
    return redirect(target)


def screen_context(request, screen):
    """Return what every screen's page gives its script: who is here and the map options."""
    return {
        "screen": screen,
        "role": request.role,
        "config": {
            "screen": screen,
            "username": request.user.username,
            "role": request.role.value,
            "subcenter_id": operator_subcenter_id(request.user),
            "tileUrl": settings.MAP_TILE_URL,
        },
    }


@role_required(*CONSOLE_ROLES)
def console(request):
    return render(request, "frontend/console.html", screen_context(request, "console"))


@role_required(*TERMINAL_ROLES)
def terminal(request):
    context = screen_context(request, "terminal")
    context["config"]["alarmOnDisconnectS"] = settings.ALARM_ON_DISCONNECT_S
    return render(request, "frontend/terminal.html", context)


@role_required(*DASHBOARD_ROLES)
def dashboard(request):
    return render(request, "frontend/dashboard.html", screen_context(request, "dashboard"))


@role_required(*DASHBOARD_ROLES)
def bulletin(request):
    """Render the printable daily bulletin (日报) of one day, today by default."""
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = timezone.localdate()
    start, end = selectors.day_window(day)
    context = screen_context(request, "bulletin")
    context.update(
        day=day, figures=selectors.dashboard_timeliness(start=start, end=end), live=selectors.dashboard_figures(),
        generated_at=timezone.localtime(),
    )
    return render(request, "frontend/bulletin.html", context)
