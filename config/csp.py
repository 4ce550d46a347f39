"""The Content-Security-Policy sent with every response (docs/OPERATIONS.md, "Content-Security-Policy").

Scripts and styles come only from our own static files; nothing inline, no eval. The policy is
django-csp's, built from settings; the one part it cannot know from settings is the address the
browser used to reach us, which the stream's ws:/wss: origin must repeat.
"""

from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost


def tile_origin(tile_url: str) -> str:
    """Return the origin of a Leaflet tile URL template, with a {s} subdomain as a wildcard."""
    parts = urlsplit(tile_url.replace("{s}.", "*."))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def policy(*, tile_url: str = "", source_origins: list[str] = ()) -> dict:
    """Return the directives: our own origin for everything, and the tile servers' for images.

    `tile_url` is a Leaflet template (tiles drawn as <img>: img-src only); `source_origins` are
    the MAP_SOURCES hosts, which a WebGL map library fetches (fetch(): connect-src as well).
    """
    images = [SELF, "data:", "blob:"]
    if tile_origin(tile_url):
        images.append(tile_origin(tile_url))
    images += [origin for origin in source_origins if origin not in images]
    return {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": images,
        "connect-src": [SELF, *source_origins],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }


class SiteCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the stream's ws:/wss: origin added to connect-src.

    CSP Level 3 lets 'self' match ws: and wss: on our own host, but browsers that predate it do
    not, and the host is only known per request (one name or address per deployment).
    """

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        try:
            host = request.get_host()
        except DisallowedHost:  # answered with 400 already; nothing of ours to connect to
            return parts
        update = parts.update or {}
        parts.update = {**update, "connect-src": [*update.get("connect-src", []), f"ws://{host}", f"wss://{host}"]}
        return parts
