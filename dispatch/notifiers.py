"""Tell people outside the system (duty phones, leaders): pluggable like Django's e-mail backends.

``NOTIFIER_BACKEND`` names the class (default ``dispatch.notifiers.LogNotifier``); ``get_notifier()``
returns an instance. A backend has one method, ``send(notice)``, which raises on failure;
``notices_send()`` calls it for each notice and logs failures, so a notification that fails
never undoes the escalation that asked for it.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "dispatch.notifiers.LogNotifier"
LEADERS = "leaders"


@dataclass(frozen=True)
class Notice:
    """One message to one recipient; as_dict() is the generic JSON body a gateway receives."""

    to: str  # a phone number, or "leaders" when no leader phone is configured
    level: int
    ticket: int
    incident: int
    text: str

    def as_dict(self):
        return asdict(self)


def leader_phones() -> list[str]:
    """Return the leaders' phones from the LEADER_PHONES setting (a list or a comma-separated string)."""
    phones = getattr(settings, "LEADER_PHONES", "")
    if isinstance(phones, str):
        phones = phones.split(",")
    return [phone.strip() for phone in phones if phone and phone.strip()]


def get_notifier(backend: str | None = None):
    """Return an instance of the configured notifier backend."""
    return import_string(backend or getattr(settings, "NOTIFIER_BACKEND", DEFAULT_BACKEND))()


def notices_send(notices) -> int:
    """Send each notice through the configured backend; log failures; return how many went out."""
    if not notices:
        return 0
    try:
        notifier = get_notifier()
    except Exception:  # a misconfigured backend must not stop the escalation worker
        log.exception("notifier backend cannot be loaded; %d notices not sent", len(notices))
        return 0
    sent = 0
    for notice in notices:
        try:
            notifier.send(notice)
            sent += 1
        except Exception:
            log.exception("notification failed: level %s to %s for ticket %s", notice.level, notice.to, notice.ticket)
    return sent


class LogNotifier:
    """Write each notice to the log (the default: development and the embedded demo)."""

    def send(self, notice: Notice) -> None:
        log.warning("NOTIFY %s (level %s, ticket %s, incident %s): %s",
                    notice.to, notice.level, notice.ticket, notice.incident, notice.text)


# Like django.core.mail.outbox: what MemoryNotifier has sent in this process.
outbox: list[Notice] = []


class MemoryNotifier:
    """Keep each notice in ``dispatch.notifiers.outbox`` (tests and local experiments)."""

    def send(self, notice: Notice) -> None:
        outbox.append(notice)


class WebhookNotifier:
    """POST each notice as JSON to NOTIFIER_WEBHOOK_URL (an SMS or voice gateway's adapter).

    A timeout or a 5xx answer is retried NOTIFIER_RETRIES times with exponential backoff;
    a 4xx answer is not retried (the request itself is wrong).
    """

    backoff_s = 0.5

    def __init__(self, *, url=None, timeout_s=None, retries=None):
        self.url = url or getattr(settings, "NOTIFIER_WEBHOOK_URL", "")
        self.timeout_s = float(timeout_s if timeout_s is not None else getattr(settings, "NOTIFIER_TIMEOUT_S", 5))
        self.retries = int(retries if retries is not None else getattr(settings, "NOTIFIER_RETRIES", 3))
        if not self.url:
            raise ValueError("WebhookNotifier needs NOTIFIER_WEBHOOK_URL")

    def send(self, notice: Notice) -> None:
        body = json.dumps(notice.as_dict(), ensure_ascii=False).encode()
        for attempt in range(self.retries + 1):
            try:
                self._post(body)
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == self.retries:
                    raise
                why = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    raise
                why = str(exc)
            delay = self.backoff_s * 2**attempt
            log.warning("webhook attempt %d for ticket %s failed (%s); retrying in %.1f s",
                        attempt + 1, notice.ticket, why, delay)
            time.sleep(delay)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()
