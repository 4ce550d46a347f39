"""GeoDispatch settings, read from the environment (see docs/OPERATIONS.md)."""

import os
import sys
from pathlib import Path

from config.csp import policy
from config.database import retry_connections_steadily
from config.env import (
    database_from_url,
    database_url,
    env_bool,
    env_int,
    env_list,
    env_positive_int,
    env_str,
    redis_host,
)

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
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
    "config.csp.SiteCSPMiddleware",
    # Above the session and auth middleware: their database calls are answered 503 too.
    "api.outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

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
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
]
# A tile server on the isolated network (e.g. http://tiles.local/{z}/{x}/{y}.png); empty: our vector data only.
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
# Content-Security-Policy on every response (config/csp.py); the tile server may serve images.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": policy(tile_url=MAP_TILE_URL)}

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
}

SPECTACULAR_SETTINGS = {
    "TITLE": "GeoDispatch API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "DEFAULT_GENERATOR_CLASS": "api.generator.ApiSchemaGenerator",
}

# Router: a point outside every coverage but within this distance goes to the nearest one.
ROUTING_TOLERANCE_M = env_int("ROUTING_TOLERANCE_M", 200)

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

# Signed checkpoints of the event log (docs/OPERATIONS.md, "Signed checkpoints"): the deadline worker
# signs the chain's head with an Ed25519 key kept outside the database, every CHECKPOINT_INTERVAL_S
# seconds or every CHECKPOINT_EVERY events, whichever comes first. EVENT_CHECKPOINTS_FILE empty: one
# file per database in the data folder, so a test or bench database never writes into the real record.
DATA_DIR = Path(os.environ.get("GEODISPATCH_DATA") or BASE_DIR / ".data")
EVENT_SIGNING_KEY = env_str("EVENT_SIGNING_KEY", str(DATA_DIR / "event_signing_key"))
EVENT_CHECKPOINTS_FILE = env_str("EVENT_CHECKPOINTS_FILE", "")
CHECKPOINT_INTERVAL_S = env_positive_int("CHECKPOINT_INTERVAL_S", 60)
CHECKPOINT_EVERY = env_positive_int("CHECKPOINT_EVERY", 1000)
