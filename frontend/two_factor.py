"""The second step of a login in the browser: enrol a TOTP app, or enter its code (or a recovery code).

A user whose role must have two factors (REQUIRE_2FA_ROLES) and whose session is not verified reaches
only these pages, logout and the language switch; every other page and the admin send them here, and
the API does not take such a session as a login (docs/OPERATIONS.md, "Two factors").
"""

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from api import two_factor
from frontend.lockout import lockout_response

VERIFY = "frontend:two_factor"
ENROL = "frontend:two_factor_enrol"
OPEN_TO_UNVERIFIED = {VERIFY, ENROL, "frontend:logout", "frontend:set_language", "frontend:jsi18n"}


def needs_second_factor(request) -> bool:
    """Tell whether this request's session is logged in but still owes its second factor."""
    user = request.user
    return bool(
        user.is_authenticated and not user.is_verified() and two_factor.two_factor_required(user)
    )


class TwoFactorRequiredMiddleware:
    """After django-otp's OTPMiddleware: hold back a session that owes its second factor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if needs_second_factor(request):
            path = request.path_info
            if path.startswith("/api/"):
                # Not a login for the API (403 from the API, as for no session); a token in the header still counts.
                request.user = AnonymousUser()
            elif not path.startswith("/" + settings.STATIC_URL.lstrip("/")) and not _open(path):
                target = reverse(ENROL if not two_factor.is_enrolled(request.user) else VERIFY)
                return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def _open(path):
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.view_name in OPEN_TO_UNVERIFIED


def _next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("frontend:home")


def _to_login(request):
    return redirect(f"{reverse('frontend:login')}?{urlencode({'next': _next(request)})}")


@never_cache
@sensitive_post_parameters("otp")
def verify(request):
    """Ask an enrolled user for the code of their app, or one of their recovery codes (used up)."""
    if not request.user.is_authenticated:
        return _to_login(request)
    if not needs_second_factor(request):
        return redirect(_next(request))
    user = request.user
    if not two_factor.is_enrolled(user):
        return redirect(f"{reverse(ENROL)}?{urlencode({'next': _next(request)})}")
    context = {"next": _next(request), "wait": two_factor.wait_seconds(user)}
    if request.method == "POST":
        if two_factor.is_locked_out(request, user):
            logout(request)
            return lockout_response(request, credentials={"username": user.get_username()})
        device = two_factor.second_factor_verify(user=user, code=request.POST.get("otp", ""), request=request, where="page")
        if device is not None:
            return redirect(_next(request))
        if two_factor.is_locked_out(request, user):
            logout(request)
            return lockout_response(request, credentials={"username": user.get_username()})
        context.update(failed=True, wait=two_factor.wait_seconds(user))
        return render(request, "frontend/two_factor_verify.html", context, status=400)
    return render(request, "frontend/two_factor_verify.html", context)


def qr_svg_data_url(text: str) -> str:
    """Return a QR code of `text` as an SVG data: URL (drawn here: no CDN, no script; CSP allows img-src data:)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


@never_cache
@sensitive_post_parameters("otp")
def enrol(request):
    """Show a new TOTP secret (as text and as a QR code); a correct code confirms it and shows the recovery codes once."""
    if not request.user.is_authenticated:
        return _to_login(request)
    user = request.user
    if two_factor.is_enrolled(user):
        return redirect(_next(request) if not needs_second_factor(request) else f"{reverse(VERIFY)}?{urlencode({'next': _next(request)})}")
    device = two_factor.enrolment_device(user)
    if request.method == "POST":
        codes = two_factor.enrolment_confirm(user=user, code=request.POST.get("otp", ""), request=request)
        if codes is not None:
            return render(request, "frontend/two_factor_recovery.html", {"codes": codes, "next": _next(request)})
    secret = device_secret(device)
    context = {
        "secret": secret, "secret_groups": [secret[i:i + 4] for i in range(0, len(secret), 4)],
        "qr": qr_svg_data_url(device.config_url), "next": _next(request), "failed": request.method == "POST",
        "issuer": settings.OTP_TOTP_ISSUER, "step": device.step, "digits": device.digits,
    }
    return render(request, "frontend/two_factor_enrol.html", context, status=400 if request.method == "POST" else 200)


def device_secret(device) -> str:
    """Return the device's key as an authenticator app types it in: base32, no padding."""
    return b32encode(device.bin_key).decode().rstrip("=")
