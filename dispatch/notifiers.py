"""Tell people outside the system (duty phones, leaders): pluggable like Django's e-mail backends.

``NOTIFIER_BACKEND`` names the class (default ``dispatch.notifiers.LogNotifier``); ``get_notifier()``
returns an instance. A backend has one method, ``send(message, *, idempotency_key)``: one try,
returning a short note of the answer, raising ``Refused`` when retrying cannot help and any other
exception when it may. Retries, back-off and the record of every try belong to the outbox
(dispatch/services/notices.py), which passes the same key on every try of one notice.
"""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "dispatch.notifiers.LogNotifier"
LEADERS = "leaders"
# A gateway that is busy or timed out may well take the same request later.
RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True)
class Message:
    """One message to one recipient; as_dict() is the generic JSON body a gateway receives."""

    to: str  # a phone number, or "leaders" when no leader phone is configured
    level: int
    ticket: int
    incident: int
    text: str

    def as_dict(self):
        return asdict(self)


class Refused(Exception):
    """The gateway refused the message itself: sending it again would be refused again."""


def leader_phones() -> list[str]:
    """Return the leaders' phones from the LEADER_PHONES setting (a list or a comma-separated string)."""
    phones = getattr(settings, "LEADER_PHONES", "")
    if isinstance(phones, str):
        phones = phones.split(",")
    return [phone.strip() for phone in phones if phone and phone.strip()]


def get_notifier(backend: str | None = None):
    """Return an instance of the configured notifier backend."""
    return import_string(backend or getattr(settings, "NOTIFIER_BACKEND", DEFAULT_BACKEND))()


class LogNotifier:
    """Write each message to the log (the default: development and the embedded demo)."""

    def send(self, message: Message, *, idempotency_key: str) -> str:
        log.warning("NOTIFY %s (level %s, ticket %s, incident %s, key %s): %s",
                    message.to, message.level, message.ticket, message.incident, idempotency_key, message.text)
        return "logged"


# Like django.core.mail.outbox: what MemoryNotifier has sent in this process, as (message, key).
outbox: list[tuple[Message, str]] = []


class MemoryNotifier:
    """Keep each message in ``dispatch.notifiers.outbox`` (tests and local experiments)."""

    def send(self, message: Message, *, idempotency_key: str) -> str:
        outbox.append((message, idempotency_key))
        return "kept in memory"


class WebhookNotifier:
    """POST each message as JSON to NOTIFIER_WEBHOOK_URL (an SMS or voice gateway's adapter).

    The notice's key goes in the ``Idempotency-Key`` header, the same on every try, so a gateway
    that saw a try whose answer was lost can tell the next one is not a new message. A 4xx answer
    (but 408, 425, 429) is ``Refused``; a 5xx, a timeout or a refused connection may be retried.
    """

    def __init__(self, *, url=None, timeout_s=None):
        self.url = url or getattr(settings, "NOTIFIER_WEBHOOK_URL", "")
        self.timeout_s = float(timeout_s if timeout_s is not None else getattr(settings, "NOTIFIER_TIMEOUT_S", 5))
        if not self.url:
            raise ValueError("WebhookNotifier needs NOTIFIER_WEBHOOK_URL")

    def send(self, message: Message, *, idempotency_key: str) -> str:
        body = json.dumps(message.as_dict(), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idempotency_key}
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return f"HTTP {response.status} {_excerpt(response.read())}".strip()
        except urllib.error.HTTPError as exc:
            answer = f"HTTP {exc.code} {_excerpt(exc.read())}".strip()
            if exc.code < 500 and exc.code not in RETRYABLE_4XX:
                raise Refused(answer) from exc
            raise RuntimeError(answer) from exc


def _excerpt(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace").strip()
