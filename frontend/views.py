"""The three screens (console, terminal, dashboard), the login page and the daily bulletin; pages read selectors."""

from datetime import date, datetime
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from dispatch import selectors
from dispatch.errors import NotFound
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
EVERY_ROLE = (Role.DISPATCHER, Role.ADMIN, Role.OPERATOR, Role.LEADER)

# What each event says on the printed timeline; an event not named here is shown by its name.
EVENT_LABELS = {
    "incident.reported": _("Incident reported"), "incident.triage": _("Sent to triage"),
    "incident.updated": _("Incident updated"), "incident.closed": _("Incident closed"),
    "incident.call": _("Another call"), "incident.merged": _("Merged as a duplicate"),
    "ticket.issued": _("Ticket issued"), "ticket.delivered": _("Ticket delivered"),
    "ticket.accepted": _("Ticket accepted"), "ticket.rejected": _("Ticket rejected"),
    "ticket.confirmed": _("Acceptance confirmed"), "ticket.feedback": _("Progress note"),
    "ticket.resolved": _("Final report"), "ticket.reopened": _("Ticket reopened"),
    "ticket.closed": _("Ticket closed"), "ticket.cancelled": _("Ticket cancelled"),
    "ticket.checked": _("Checklist item ticked or unticked"), "ticket.overdue": _("Deadline missed"), "notice.failed": _("Notice failed"),
}


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


@role_required(*EVERY_ROLE)
def timeline(request, incident_id):
    """Render an incident's timeline to print (时间线): who did what, when, for each ticket, as the user may see it."""
    try:
        data = selectors.incident_timeline(user=request.user, incident_id=incident_id)
    except NotFound:
        raise Http404 from None
    context = screen_context(request, "timeline")
    context.pop("config")  # a page without a script
    entries = [{**entry, "label": EVENT_LABELS.get(entry["name"], entry["name"]),
                "when": datetime.fromisoformat(entry["at"])} for entry in data["entries"]]
    context.update(incident=data["incident"], entries=entries, generated_at=timezone.localtime())
    return render(request, "frontend/timeline.html", context)


FAVICON = "frontend/favicon.svg"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Answer /favicon.ico with the project's own icon (an SVG: every browser the screens support shows it)."""
    return FileResponse(open(finders.find(FAVICON), "rb"), content_type="image/svg+xml")
