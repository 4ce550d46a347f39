"""The errors a service raises; the API and the stream turn each into one clear answer."""

from django.utils.translation import gettext_lazy

ERR_TICKET_NOT_FOUND = gettext_lazy("no ticket {id}")
ERR_REASON_REQUIRED = gettext_lazy("a reason is required")


class DispatchError(Exception):
    """Base: `errors` maps a field (or "detail") to messages."""

    status = 400

    def __init__(self, message, *, field="detail", **extra):
        message = str(message)  # a lazy translation, in the language of the request or stream that raised it
        super().__init__(message)
        self.errors = {field: [message]}
        self.extra = extra


class Invalid(DispatchError):
    status = 400

    @classmethod
    def fields(cls, errors):
        error = cls("; ".join(f"{k}: {v[0]}" for k, v in errors.items()))
        error.errors = errors
        return error


class Forbidden(DispatchError):
    status = 403


class NotFound(DispatchError):
    status = 404


class Conflict(DispatchError):
    """A forbidden transition or a lost race; `extra` carries the current status."""

    status = 409


def need_reason(reason):
    """Return the stripped reason, or raise Invalid naming the field."""
    if not (reason or "").strip():
        raise Invalid(ERR_REASON_REQUIRED, field="reason")
    return reason.strip()
