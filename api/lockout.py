"""The login lockout (django-axes) as the API and the pages see it: whom it counts, and for how long."""

import math

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import Throttled

ERR_LOCKED_OUT = gettext_lazy("too many failed logins for this account or address; try again in {seconds} s or ask an administrator")


class LockedOut(Throttled):
    """A login refused by the lockout: 429 with Retry-After, in the API's one error format."""

    def __init__(self, seconds):
        super().__init__(wait=seconds, detail=ERR_LOCKED_OUT.format(seconds=seconds))


UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a peer with no IP address (a unix socket): counted together, not never


def client_ip(request):
    """Return the client's address: REMOTE_ADDR, already resolved through TRUSTED_PROXIES (config/proxy.py)."""
    return request.META.get("REMOTE_ADDR") or UNKNOWN_ADDRESS


def lockout_parameters(request, credentials):
    """Count failures per account and per address; a token check names no account, so per address only."""
    if credentials and credentials.get("username"):
        return ["username", "ip_address"]
    return ["ip_address"]


def retry_after(request, username=None):
    """Return the seconds until the lockout of this account or address ends (at least 1)."""
    match = Q(ip_address=client_ip(request)) | (Q(username=username) if username else Q())
    latest = AccessAttempt.objects.filter(match).aggregate(at=Max("attempt_time"))["at"] or timezone.now()
    left = (latest + get_cool_off(request) - timezone.now()).total_seconds()
    return max(1, math.ceil(left))


def is_locked_out(request):
    """Tell whether the lockout refused the last authenticate() on this request."""
    return bool(getattr(request, "axes_locked_out", False))
