"""Read settings from the environment; a bad value stops start-up with its name."""

import ipaddress
import os
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} is not set (./geodispatch sets it for you)")
    return value


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None


def env_positive_int(name, default):
    """Return a whole number above zero (a timeout, a size), or stop start-up naming the setting."""
    value = env_int(name, default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be above zero, got {value}")
    return value


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_url(argv):
    """Return MIGRATE_DATABASE_URL for `manage.py migrate` when it is set, else DATABASE_URL.

    The schema's owner migrates; everything else runs as the runtime role (docs/OPERATIONS.md,
    "Database roles"). Without MIGRATE_DATABASE_URL one role does both, as before.
    """
    owner_url = os.environ.get("MIGRATE_DATABASE_URL")
    if owner_url and argv[1:2] == ["migrate"]:
        return owner_url
    return env_str("DATABASE_URL")


def env_networks(name, environ=None):
    """Return the addresses and CIDR blocks listed in a comma-separated variable as networks."""
    raw = (os.environ if environ is None else environ).get(name, "")
    try:
        return [ipaddress.ip_network(item.strip(), strict=False) for item in raw.split(",") if item.strip()]
    except ValueError as problem:
        raise ImproperlyConfigured(f"{name} must list addresses or CIDR blocks: {problem}") from None


def database_from_url(url):
    """Return a Django DATABASES entry for a postgres:// URL (``?host=`` may name a socket folder)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "postgis"}:
        raise ImproperlyConfigured(f"DATABASE_URL must start with postgres://, got {parsed.scheme!r}")
    query = parse_qs(parsed.query)
    name = unquote(parsed.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database")
    return {
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": name,
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.get("host", [parsed.hostname or ""])[0],
        "PORT": str(parsed.port or ""),
    }


def redis_host(url):
    """Return a channels-redis host entry for a redis:// or unix:// URL.

    redis-py 8 closes idle connections after 5 s and caps its pool at 100 by default,
    which breaks idle consumers (channels_redis#422): set both explicitly.
    """
    if urlparse(url).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL must start with redis:// or unix://, got {url!r}")
    return {"address": url, "socket_timeout": 30, "max_connections": 1000}
