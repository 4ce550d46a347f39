"""GeoDispatch settings, read from the environment (see docs/OPERATIONS.md)."""

import os
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.csp import policy
from config.database import retry_connections_steadily
from config.env import (
    database_from_url,
    database_url,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_positive_int,
    env_str,
    redis_host,
)
from config.map_sources import map_sources, source_origins

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Peers whose X-Forwarded-For is believed (addresses or CIDR blocks); empty: the peer is the client.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "geo",
    "dispatch",
    "realtime",
    "api",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The request being served, for the security audit's records written without one.
    "api.audit.AuditRequestMiddleware",
    "config.csp.SiteCSPMiddleware",
    # Above the session and auth middleware: their database calls are answered 503 too.
    "api.outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # The API's language is Accept-Language's alone (zh-hans without one), whatever a browser chose for the pages.
    "api.language.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(); then a role that must have two factors reaches only the 2FA pages until it is.
    "django_otp.middleware.OTPMiddleware",
    "frontend.two_factor.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a page login refused by the lockout into its 429 (frontend/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# `manage.py migrate` connects as the schema's owner when MIGRATE_DATABASE_URL is set (config/env.py).
DATABASES = {"default": database_from_url(database_url(sys.argv))}
# An unreachable or stalled database must be answered (a 503), not waited for (docs/OPERATIONS.md).
DB_CONNECT_TIMEOUT_S = env_positive_int("DB_CONNECT_TIMEOUT_S", 2)
DB_STATEMENT_TIMEOUT_MS = env_positive_int("DB_STATEMENT_TIMEOUT_MS", 10000)
DB_POOL_TIMEOUT_S = env_positive_int("DB_POOL_TIMEOUT_S", 2)
DATABASES["default"]["OPTIONS"] = {
    "connect_timeout": DB_CONNECT_TIMEOUT_S,
    "options": f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
}
# Django's own pool: without it every database_sync_to_async call opens a connection.
if env_bool("DB_POOL", True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 2, "max_size": env_positive_int("DB_POOL_MAX", 20), "timeout": DB_POOL_TIMEOUT_S,
    }
# After an outage the pool tries to connect again every DB_RECONNECT_MS, not ever more rarely.
retry_connections_steadily(env_positive_int("DB_RECONNECT_MS", 500) / 1000)
# Worker threads per Daphne process (realtime/threads.py); together at most DB_POOL_MAX.
HTTP_THREADS = env_int("HTTP_THREADS", 10)
STREAM_THREADS = env_int("STREAM_THREADS", 8)
DATABASES["default"]["CONN_MAX_AGE"] = 0

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # Bounded connects and reads: a frozen Redis fails a call instead of holding it. The
                # hub's receive waits up to 5 s by design (BZPOPMIN): the read timeout must be longer.
                "hosts": [{**redis_host(REDIS_URL), "socket_connect_timeout": 2, "socket_timeout": 10}],
                "capacity": 1000, "expiry": 30,
                # Separate systems (or a test run beside a running demo) sharing one Redis.
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "geodispatch"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Logins, tokens and sessions (docs/OPERATIONS.md, "Security") ---
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}", **options}
    for name, options in (
        ("UserAttributeSimilarityValidator", {}),
        ("MinimumLengthValidator", {"OPTIONS": {"min_length": 10}}),
        ("CommonPasswordValidator", {}),
        ("NumericPasswordValidator", {}),
    )
] + [{"NAME": "api.tokens.PasswordChangeEndsTokens"}]  # a password change revokes the person's API tokens
# The lockout backend comes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "api.backends.TokenBackend",  # the stream's token check, so it is counted by the lockout too
]
# django-axes: failures per account and per address (a token check names no account: per address).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = "api.lockout.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "api.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "frontend.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A refused try while locked out does not extend the lock, so Retry-After stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Failed logins (and failed second-factor codes) are logged with account and address (an audit record); secrets never.
AXES_SENSITIVE_PARAMETERS = ["token", "csrfmiddlewaretoken", "otp"]
# Roles that must log in with a second factor (TOTP, or a single-use recovery code): pages, admin, API token, stream.
REQUIRE_2FA_ROLES = [role.lower() for role in env_list("REQUIRE_2FA_ROLES", "admin")]
if unknown_roles := set(REQUIRE_2FA_ROLES) - {"admin", "dispatcher", "operator", "leader"}:
    raise ImproperlyConfigured(f"REQUIRE_2FA_ROLES names no role: {', '.join(sorted(unknown_roles))}")
OTP_TOTP_ISSUER = "GeoDispatch"
# A person's API token lives TOKEN_TTL seconds; a device token until an admin revokes it.
TOKEN_TTL = env_int("TOKEN_TTL", 12 * 3600)
# A session ends after SESSION_IDLE_S seconds without a request (each request renews it).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_S", 1800)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"
# Browser libraries installed from npm (package-lock.json) and served by the project itself.
STATICFILES_DIRS = [
    ("vendor/ol", BASE_DIR / "node_modules" / "ol"),
    ("vendor/leaflet", BASE_DIR / "node_modules" / "leaflet" / "dist"),
    ("vendor/maplibre-gl", BASE_DIR / "node_modules" / "maplibre-gl" / "dist"),
    ("vendor/maplibre-gl-leaflet", BASE_DIR / "node_modules" / "@maplibre" / "maplibre-gl-leaflet" / "dist"),
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
    ("vendor/preact", BASE_DIR / "node_modules" / "preact" / "dist"),
    ("vendor/htm", BASE_DIR / "node_modules" / "htm" / "dist"),
]
# A tile server on the isolated network (e.g. http://tiles.local/{z}/{x}/{y}.png); empty: our vector data only.
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
# Base tile services (config/map_sources.py; docs/OPERATIONS.md, "Base maps"): a JSON list; MAP_TILE_URL is one more.
MAP_SOURCES = map_sources(env_str("MAP_SOURCES", ""), MAP_TILE_URL)
# Content-Security-Policy on every response (config/csp.py); the tile servers may serve images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": policy(tile_url=MAP_TILE_URL, source_origins=source_origins(MAP_SOURCES)),
}

# Debian 12 ships GDAL 3.6, which cannot block file and network access from spatial
# references; only administrators import files, so the warning is acknowledged here.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a request without credentials gets 401 with WWW-Authenticate: Token.
        "api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    # Throttles key on REMOTE_ADDR, which config/proxy.py has already resolved; never on the raw header.
    "NUM_PROXIES": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "GeoDispatch API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "DEFAULT_GENERATOR_CLASS": "api.generator.ApiSchemaGenerator",
    # An incident's status appears in several answers (incident, map feature, duplicate): one enum.
    "ENUM_NAME_OVERRIDES": {"IncidentStatusEnum": "dispatch.models.IncidentStatus"},
}

# Reverse lookup (an address for a point): the nearest named road, place and POI within this distance.
REVERSE_RADIUS_M = env_positive_int("REVERSE_RADIUS_M", 500)

# Router: a point outside every coverage but within this distance goes to the nearest one.
ROUTING_TOLERANCE_M = env_int("ROUTING_TOLERANCE_M", 200)

# Duplicate calls: while a call is logged, the console lists open incidents within this distance,
# reported within this many hours (GET /api/v1/incidents/duplicates; a query may ask for others).
DUPLICATE_RADIUS_M = env_positive_int("DUPLICATE_RADIUS_M", 500)
DUPLICATE_WINDOW_H = env_positive_int("DUPLICATE_WINDOW_H", 2)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# The readiness check asks the realtime floor how far its hub is behind (api does not import realtime).
HUB_PROGRESS = "realtime.hub.hub_progress"

# Realtime stream: clients send a heartbeat every HEARTBEAT_S; a terminal is offline once its
# last heartbeat is older than TERMINAL_STALE_S (a killed process leaves no goodbye).
HEARTBEAT_S = env_int("HEARTBEAT_S", 15)
TERMINAL_STALE_S = env_int("TERMINAL_STALE_S", 45)
# The terminal page sounds its distinct alarm once its stream has been down this long.
ALARM_ON_DISCONNECT_S = env_positive_int("ALARM_ON_DISCONNECT_S", 30)
# A `since` further behind than this gets resync_required and a fresh snapshot.
REPLAY_LIMIT = env_int("REPLAY_LIMIT", 5000)

# Deadline worker and escalation ladder (docs/OPERATIONS.md, "Escalation").
ESCALATION_STEP_S = env_int("ESCALATION_STEP_S", 30)
NOTIFIER_BACKEND = env_str("NOTIFIER_BACKEND", "dispatch.notifiers.LogNotifier")
NOTIFIER_WEBHOOK_URL = env_str("NOTIFIER_WEBHOOK_URL", "")
NOTIFIER_TIMEOUT_S = env_int("NOTIFIER_TIMEOUT_S", 5)
# The outbox's tries per notice and the first back-off (doubled after each failed try).
# NOTIFIER_RETRIES, the older setting, still counts retries after the first try when set.
NOTIFIER_MAX_ATTEMPTS = env_int("NOTIFIER_MAX_ATTEMPTS", env_int("NOTIFIER_RETRIES", 4) + 1)
NOTIFIER_RETRY_S = env_int("NOTIFIER_RETRY_S", 5)
LEADER_PHONES = env_list("LEADER_PHONES")

# Leaders' timeliness: a sub-center is named slowest at a stage only with at least this many tickets counted there.
SLOWEST_MIN_TICKETS = env_positive_int("SLOWEST_MIN_TICKETS", 3)

# Signed checkpoints of the event log (docs/OPERATIONS.md, "Signed checkpoints"): the deadline worker
# signs the chain's head with an Ed25519 key kept outside the database, every CHECKPOINT_INTERVAL_S
# seconds or every CHECKPOINT_EVERY events, whichever comes first. EVENT_CHECKPOINTS_FILE empty: one
# file per database in the data folder, so a test or bench database never writes into the real record.
DATA_DIR = Path(os.environ.get("GEODISPATCH_DATA") or BASE_DIR / ".data")
EVENT_SIGNING_KEY = env_str("EVENT_SIGNING_KEY", str(DATA_DIR / "event_signing_key"))
EVENT_CHECKPOINTS_FILE = env_str("EVENT_CHECKPOINTS_FILE", "")
CHECKPOINT_INTERVAL_S = env_positive_int("CHECKPOINT_INTERVAL_S", 60)
CHECKPOINT_EVERY = env_positive_int("CHECKPOINT_EVERY", 1000)
