"""The page a locked-out login gets: 429, Retry-After, and words a person can act on."""

import math

from django.shortcuts import render

from api.lockout import retry_after


def lockout_response(request, original_response=None, credentials=None):
    """Answer a login the lockout refused (AXES_LOCKOUT_CALLABLE); the API's own 429 passes unchanged."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    seconds = retry_after(request, (credentials or {}).get("username"))
    context = {"minutes": math.ceil(seconds / 60), "login_url": request.get_full_path()}
    response = render(request, "frontend/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
