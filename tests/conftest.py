"""Shared test set-up: real PostGIS (the embedded cluster or DATABASE_URL), real Redis."""

import importlib
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Return the folder of real boundary and facility data (shared/data beside the repo)."""
    assert SHARED_DATA.is_dir(), f"shared data missing at {SHARED_DATA}"
    return SHARED_DATA


def ensure_seed():
    """Restore what migrations seed (kinds, categories, plans, the event head).

    A transactional test empties every table when it ends; the next test must not
    depend on whether one ran before it.
    """
    from dispatch.models import Category, EventHead

    if EventHead.objects.filter(pk=1).exists() and Category.objects.exists():
        return
    importlib.import_module("geo.migrations.0002_subcenter_kinds").add_kinds(apps, None)
    importlib.import_module("dispatch.migrations.0004_seed_categories_plans").seed(apps, None)
    importlib.import_module("dispatch.migrations.0016_plan_name_en").name_plans_in_english(apps, None)
    EventHead.objects.get_or_create(pk=1)


def ensure_sample_city():
    """Load 临沧市 (8 counties × 6 sub-centers) unless it is already there."""
    from dispatch.management.commands.load_sample_city import load_geodata
    from geo.models import SubCenter

    ensure_seed()
    if SubCenter.objects.filter(code__startswith="5309").count() != 48:
        load_geodata()


@pytest.fixture
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_seed()


@pytest.fixture
def sample_city(django_db_setup, django_db_blocker):
    """The sample city, committed outside the test's transaction so it loads once."""
    with django_db_blocker.unblock():
        ensure_sample_city()


@pytest.fixture(scope="module")
def clean_after_module(django_db_setup, django_db_blocker):
    """Empty the database after the module, as a transactional test does after itself, and seed it again.

    For a module whose fixtures commit shared data (the sample city, the base map) and that holds no
    transactional test to clear it: later modules must not find it.
    """
    yield
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        ensure_seed()  # … and what the migrations seed, as after migrating


LIECHTENSTEIN = SHARED_DATA / "osm" / "liechtenstein-2013-08-03.osm.pbf"


def ensure_liechtenstein():
    """Import the Liechtenstein extract as the base map unless it is the one there (once a session, in practice)."""
    from geo.basemap import basemap_import
    from geo.models import BasemapFeature, BasemapImport

    latest = BasemapImport.objects.order_by("-id").first()
    if latest is None or not latest.source.endswith(LIECHTENSTEIN.name) or not BasemapFeature.objects.exists():
        basemap_import(path=LIECHTENSTEIN)


@pytest.fixture
def liechtenstein(django_db_setup, django_db_blocker):
    """The Liechtenstein base map (ODbL, © OpenStreetMap contributors), committed outside the test's transaction."""
    with django_db_blocker.unblock():
        ensure_liechtenstein()


def password_of(username):
    """Return the cast member's password: one that passes AUTH_PASSWORD_VALIDATORS."""
    return f"pw-{username}-Lincang!"


@pytest.fixture
def cast(sample_city, db):
    """A small fixed cast: a dispatcher, a leader, an admin, and two operators of 凤庆县."""
    from dispatch.services import user_add

    def make(username, role, subcenter=None):
        return user_add(username=username, role=role, subcenter_code=subcenter, password=password_of(username))[0]

    return type("Cast", (), {
        "dispatcher": make("t-dispatcher", "dispatcher"),
        "leader": make("t-leader", "leader"),
        "admin": make("t-admin", "admin"),
        "water_op": make("t-water", "operator", "530921-water"),
        "water_op2": make("t-water2", "operator", "530921-water"),
        "health_op": make("t-health", "operator", "530921-health"),
    })


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client, past the second factor that admins must have (tests/second_factor.py)."""
    from tests.second_factor import verified_login

    return verified_login(client, admin_user)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Hash test passwords cheaply; the cast is created for every test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_real_signing_key(settings, tmp_path):
    """Sign nothing with the checkout's own key: a test that signs sets a key of its own."""
    settings.EVENT_SIGNING_KEY = str(tmp_path / "no_signing_key")
    settings.EVENT_CHECKPOINTS_FILE = str(tmp_path / "checkpoints.jsonl")


@pytest.fixture
def terminals_online(sample_city, db, django_user_model):
    """Every sample sub-center has a live terminal, so no ticket is paged at once."""
    from dispatch import services
    from geo.models import SubCenter

    user, _ = django_user_model.objects.get_or_create(username="t-terminals")
    for subcenter in SubCenter.objects.filter(code__startswith="5309"):
        services.terminal_connect(channel_name=f"test!{subcenter.code}", user=user, subcenter_id=subcenter.id)


@pytest.fixture(scope="session", autouse=True)
def close_connection_pools(django_db_setup):
    """Close pooled connections left by worker threads, so the test database can be dropped."""
    yield
    from django.db import connections

    for conn in connections.all():
        if getattr(conn, "pool", None) is not None:
            conn.close_pool()


# ---- the browser tests' fixtures (tests/screens.py) ---------------------------------------


@pytest.fixture
def servers(cast, tmp_path):
    """Daphne processes on loopback against the test database; the cast can log in with pw-<username>."""
    from tests.screens import Servers, login_passwords

    login_passwords(cast)
    running = Servers(tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
def browser():
    """Debian's Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
