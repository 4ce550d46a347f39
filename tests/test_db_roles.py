"""Least privilege in the database: the runtime role reads and appends to the event log, nothing more.

Against the test database, the launcher's own code (config/dbroles.py) makes an owner and a
runtime role with names of this test's own, hands the owner the test database (as it does for a
cluster an earlier version filled as the superuser) and grants the runtime role its rights; the
test then connects as each role with psycopg, over the same socket, as the system would.
The roles are dropped at the end and the database handed back to the connecting role.
"""

import os
import secrets
import subprocess
import sys
import uuid
from io import StringIO
from types import SimpleNamespace

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from config import dbroles
from config.env import database_url
from dispatch.events import body_digest
from dispatch.models import Event, EventHead
from tests.conftest import ROOT
from tests.test_live_stream import database_url_for_tests

pytestmark = pytest.mark.django_db(transaction=True)


def admin_sql(statement, *parts):
    """Run one statement as the connecting role, with role names (and other parts) quoted in."""
    quoted = [part if isinstance(part, sql.Composable) else sql.Identifier(part) for part in parts]
    with psycopg.connect(dbroles.libpq_url(database_url_for_tests()), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(*quoted))


@pytest.fixture
def roles(seeded):
    """An owner and a runtime role made as the embedded cluster makes them; dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    owner, runtime = f"gd_test_owner_{suffix}", f"gd_test_app_{suffix}"
    admin_url = database_url_for_tests()
    dbroles.roles_ensure(admin_url, owner=owner, runtime=runtime)
    # Passwords, in case DATABASE_URL's server asks for one; the embedded socket is trusted.
    passwords = {role: secrets.token_urlsafe(16) for role in (owner, runtime)}
    for role, password in passwords.items():
        admin_sql("ALTER ROLE {} PASSWORD {}", role, sql.Literal(password))
    owner_url = dbroles.url_as(admin_url, owner, passwords[owner])
    dbroles.runtime_grant(owner_url, runtime=runtime)
    try:
        yield SimpleNamespace(owner=owner, runtime=runtime, admin_url=admin_url, owner_url=owner_url,
                              runtime_url=dbroles.url_as(admin_url, runtime, passwords[runtime]))
    finally:
        admin_sql("REASSIGN OWNED BY {} TO {}", owner, connection.settings_dict["USER"])
        # One at a time: dropped together, the owner's default privileges for the runtime role go twice.
        admin_sql("DROP OWNED BY {}", owner)
        admin_sql("DROP OWNED BY {}", runtime)
        admin_sql("DROP ROLE {}, {}", owner, runtime)


def connect(url):
    return psycopg.connect(dbroles.libpq_url(url), autocommit=True)


def append_event(conn, name="terminal.presence"):
    """Insert one event as the services do (no seq: the trigger numbers it at commit); return its id."""
    created_at = conn.execute("SELECT now()").fetchone()[0]
    digest = body_digest(name=name, incident_id=None, ticket_id=None, audience=[], actor_id=None, payload={},
                         created_at=created_at)
    return conn.execute(
        "INSERT INTO dispatch_event (name, audience, payload, created_at, body_hash, prev_hash, hash) "
        "VALUES (%s, '{}', '{}', %s, %s, '', '') RETURNING id", [name, created_at, digest],
    ).fetchone()[0]


def verify():
    out = StringIO()
    call_command("verify_events", stdout=out)
    return out.getvalue().strip()


def test_the_embedded_set_up_makes_both_roles_and_hands_the_owner_everything_idempotently(roles):
    dbroles.roles_ensure(roles.admin_url, owner=roles.owner, runtime=roles.runtime)  # a second run changes nothing
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
                       "WHERE rolname IN (%s, %s) ORDER BY rolname", [roles.owner, roles.runtime])
        assert cursor.fetchall() == [(roles.runtime, False, False, False, True), (roles.owner, False, False, False, True)]
        cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
        assert cursor.fetchone() == (roles.owner,)
        # Every table and sequence the migrations made (as the connecting role) is the owner's now.
        cursor.execute(
            "SELECT relname FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S', 'v')"
            " AND pg_get_userbyid(relowner) <> %s"
            " AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')", [roles.owner])
        assert cursor.fetchall() == []
        cursor.execute("SELECT proname, pg_get_userbyid(proowner), prosecdef, proconfig FROM pg_proc"
                       " WHERE proname LIKE 'dispatch_event%%' ORDER BY proname")
        assert cursor.fetchall() == [
            ("dispatch_event_append_only", roles.owner, False, None),
            ("dispatch_event_sequence", roles.owner, True, ["search_path=public, pg_temp"]),
        ]


def test_the_runtime_role_appends_events_and_the_sequencer_still_numbers_them_at_commit(roles):
    head = EventHead.objects.get(pk=1).seq
    with connect(roles.runtime_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (roles.runtime,)
        with conn.transaction():
            first = append_event(conn)
            second = append_event(conn)
            assert conn.execute("SELECT seq FROM dispatch_event WHERE id = %s", [first]).fetchone() == (None,)
        numbered = conn.execute("SELECT id, seq FROM dispatch_event ORDER BY seq").fetchall()
    assert numbered == [(first, head + 1), (second, head + 2)]
    assert EventHead.objects.get(pk=1).seq == head + 2
    assert verify() == "OK: 2 events, chain intact; no signed checkpoint yet"


@pytest.mark.parametrize("statement", [
    "UPDATE dispatch_event SET payload = '{\"forged\": true}'",
    "DELETE FROM dispatch_event",
    "TRUNCATE dispatch_event CASCADE",
    "ALTER TABLE dispatch_event DISABLE TRIGGER ALL",
    "ALTER TABLE dispatch_event DISABLE TRIGGER dispatch_event_append_only",
    "DROP TABLE dispatch_event CASCADE",
    "CREATE TABLE dispatch_shadow (id bigint)",
    "CREATE TEMPORARY TABLE dispatch_shadow (id bigint)",
    "UPDATE dispatch_eventhead SET seq = 0",
    "CREATE OR REPLACE FUNCTION dispatch_event_append_only() RETURNS trigger"
    " AS 'BEGIN RETURN NEW; END' LANGUAGE plpgsql",
    "ALTER FUNCTION dispatch_event_sequence() SECURITY INVOKER",
], ids=["update", "delete", "truncate", "disable-all-triggers", "disable-guard", "drop", "create-table",
        "create-temp-table", "move-head", "replace-guard", "weaken-sequencer"])
def test_the_runtime_role_cannot_change_remove_or_unguard_the_event_log(roles, statement):
    with connect(roles.runtime_url) as conn:
        append_event(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert Event.objects.filter(payload={}).count() == 1
    assert verify() == "OK: 1 events, chain intact; no signed checkpoint yet"


def test_a_table_a_later_migration_creates_takes_rows_at_once_and_changes_after_the_grants(roles):
    with connect(roles.owner_url) as owner:
        owner.execute("CREATE TABLE dispatch_later (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)")
    try:
        with connect(roles.runtime_url) as conn:
            conn.execute("INSERT INTO dispatch_later (note) VALUES ('one')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("UPDATE dispatch_later SET note = 'two'")
            dbroles.runtime_grant(roles.owner_url, runtime=roles.runtime)
            conn.execute("UPDATE dispatch_later SET note = 'two'")
            assert conn.execute("SELECT note FROM dispatch_later").fetchall() == [("two",)]
    finally:
        with connect(roles.owner_url) as owner:
            owner.execute("DROP TABLE dispatch_later")


SERVICE_FLOW = """
from django.contrib.auth import get_user_model
from django.db import connection
from dispatch.services import incident_report, ticket_accept, ticket_deliver
users = get_user_model().objects
report = incident_report(actor=users.get(username="t-dispatcher"), category="flood", severity=2,
                         lon=99.95, lat=24.6, title="河水漫堤")
water = next(t for t in report.tickets if t.subcenter.code == "530921-water")
operator = users.get(username="t-water")
ticket_deliver(actor=operator, ticket_id=water.id)
ticket, changed = ticket_accept(actor=operator, ticket_id=water.id)
with connection.cursor() as cursor:
    cursor.execute("SELECT current_user")
    print(cursor.fetchone()[0], ticket.status, changed)
"""


def test_a_report_and_its_ticket_actions_work_when_django_connects_as_the_runtime_role(roles, cast):
    env = {name: value for name, value in os.environ.items() if name != "MIGRATE_DATABASE_URL"}
    env.update(DATABASE_URL=roles.runtime_url, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", SERVICE_FLOW], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == [roles.runtime, "accepted", "True"]
    names = list(Event.objects.order_by("seq").values_list("name", flat=True))
    assert names[0] == "incident.reported" and names[-2:] == ["ticket.delivered", "ticket.accepted"]
    assert verify() == f"OK: {len(names)} events, chain intact; no signed checkpoint yet"


def test_only_migrate_connects_with_MIGRATE_DATABASE_URL(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://geodispatch_app@/geodispatch")
    monkeypatch.setenv("MIGRATE_DATABASE_URL", "postgres://geodispatch_owner@/geodispatch")
    assert database_url(["manage.py", "migrate", "--no-input"]) == "postgres://geodispatch_owner@/geodispatch"
    assert database_url(["manage.py", "run_dispatch_worker"]) == "postgres://geodispatch_app@/geodispatch"
    assert database_url(["daphne", "--fd", "0", "config.asgi:application"]) == "postgres://geodispatch_app@/geodispatch"
    monkeypatch.delenv("MIGRATE_DATABASE_URL")
    assert database_url(["manage.py", "migrate"]) == "postgres://geodispatch_app@/geodispatch"
