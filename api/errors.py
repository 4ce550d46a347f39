"""One error format for the whole API: `{"errors": {field: [messages]}}`, plus `"status"` on 409.

Set `REST_FRAMEWORK["EXCEPTION_HANDLER"] = "api.errors.api_exception_handler"`.
A message that belongs to no field is filed under `detail`; a body that cannot be read
(too large, not JSON) under `body`.
"""

from django.http import JsonResponse
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from dispatch.errors import DispatchError
from dispatch.services import audit

NOT_A_FIELD = "detail"
BODY = "body"
DRF_NON_FIELD = "non_field_errors"
ERR_BODY_TOO_LARGE = gettext_lazy("the request body is larger than {limit} bytes")


class PayloadTooLarge(DispatchError):
    """The request body is over the API's limit (413)."""

    status = 413

    def __init__(self, limit):
        super().__init__(ERR_BODY_TOO_LARGE.format(limit=limit), field=BODY, limit=limit)


def api_exception_handler(exc, context):
    """Return the response for an exception in the API's one error format, or None (a 500)."""
    if isinstance(exc, DispatchError):
        set_rollback()
        response = _dispatch_error_response(exc)
    else:
        response = exception_handler(exc, context)
        if response is not None:
            response.data = {"errors": field_errors(exc, response.data)}
    if response is not None and response.status_code in DENIALS:
        _audit_denial(context.get("request"), response)
    return response


DENIALS = {401, 403}  # refused for who the caller is (a 404 outside an operator's scope tells nothing and is not one)


def _audit_denial(request, response):
    """Record a refusal in the security audit: who, the method and path, the status and why."""
    django_request = getattr(request, "_request", request)
    if django_request is None:
        return
    messages = response.data.get("errors", {}).get(NOT_A_FIELD) if isinstance(response.data, dict) else None
    audit.security_record(
        kind=audit.ACCESS_DENIED, outcome=audit.DENIED, request=django_request,
        detail={"status": response.status_code, "method": django_request.method, "path": django_request.path,
                "reason": str(messages[0]) if messages else ""},
    )


def _dispatch_error_response(exc):
    body = {"errors": exc.errors}
    if "status" in exc.extra:
        body["status"] = exc.extra["status"]
    return Response(body, status=exc.status)


def field_errors(exc, data):
    """Return DRF's error data as {field: [messages]}."""
    if isinstance(data, dict) and not _is_detail_only(exc, data):
        return {(NOT_A_FIELD if key == DRF_NON_FIELD else key): _messages(value) for key, value in data.items()}
    if isinstance(data, dict):
        data = data["detail"]
    field = BODY if isinstance(exc, (exceptions.ParseError, exceptions.UnsupportedMediaType)) else NOT_A_FIELD
    return {field: _messages(data)}


def _is_detail_only(exc, data):
    """Tell DRF's own `{"detail": message}` apart from field errors of a ValidationError."""
    return not isinstance(exc, exceptions.ValidationError) and set(data) == {"detail"}


def _messages(value):
    if isinstance(value, dict):
        return {key: _messages(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [str(message) if not isinstance(message, (dict, list)) else _messages(message) for message in value]
    return [str(value)]


ERR_NO_SUCH_PATH = gettext_lazy("no such path in the API: {path}")


def not_found(request, *args, **kwargs):
    """Answer any path under /api/v1/ that names nothing with the API's JSON 404."""
    message = ERR_NO_SUCH_PATH.format(path=request.path.replace("\x00", "\\0"))
    return JsonResponse({"errors": {NOT_A_FIELD: [message]}}, status=404)
