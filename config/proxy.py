"""The client's address: the direct peer, or what a trusted proxy says it forwarded for.

Every consumer of an address (DRF's throttles, django-axes, the stream's lockout, logs) reads
the one that `TrustedProxies` writes into the ASGI scope, so they cannot disagree. Daphne's
own --proxy-headers is not used: it takes the leftmost X-Forwarded-For entry from any peer
(a value the client wrote) and forgets the peer, so the peer could no longer be checked.
"""

import ipaddress


def _parse(address):
    try:
        return ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None


def is_trusted(address, trusted):
    """Tell whether an address lies in one of the trusted networks."""
    parsed = _parse(address or "")
    return parsed is not None and any(parsed in network for network in trusted)


def client_address(peer, forwarded_for, trusted):
    """Return the client's address given the direct peer and its X-Forwarded-For header.

    The header is believed only from a trusted peer, and only from the right: each trusted
    hop appends the address it saw, so the first untrusted entry from the right is the client.
    """
    if not forwarded_for or not is_trusted(peer, trusted):
        return peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if _parse(entry) is None:
            return peer  # a garbled hop: believe nothing past it
        if not is_trusted(entry, trusted):
            return str(_parse(entry))
        peer = entry
    return peer


def _forwarded_for(scope):
    values = [value.decode("latin-1") for key, value in scope.get("headers", []) if key.lower() == b"x-forwarded-for"]
    return ",".join(values)


class TrustedProxies:
    """ASGI middleware: put the client's address (see client_address) into scope["client"]."""

    def __init__(self, app, trusted):
        self.app, self.trusted = app, list(trusted)

    async def __call__(self, scope, receive, send):
        if self.trusted and scope["type"] in {"http", "websocket"} and scope.get("client"):
            host, port = scope["client"]
            address = client_address(host, _forwarded_for(scope), self.trusted)
            if address != host:
                scope = dict(scope, client=[address, 0])
        return await self.app(scope, receive, send)
