"""The database's two roles: the owner (the schema; migrate runs as it) and the runtime role (the rest).

config/db_roles.sql makes them and gives the owner the database's objects (a superuser runs it,
once per database; idempotent); config/runtime_grants.sql gives the runtime role its rights (the
owner runs it after every migrate). docs/OPERATIONS.md, "Database roles", says what each may do.
psycopg is imported when called: the launcher uses this before Django is configured.
"""

from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
OWNER_ROLE = "geodispatch_owner"
RUNTIME_ROLE = "geodispatch_app"


def libpq_url(url):
    """Return url in a form libpq reads (Django's settings also accept postgis://)."""
    return "postgresql://" + url.split("://", 1)[1]


def run_sql_file(url, name, **settings):
    """Run config/<name> at url, with each geodispatch.<key> set first (the files read their role names so)."""
    import psycopg

    try:
        with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10) as conn:
            for key, value in settings.items():
                conn.execute("SELECT set_config(%s, %s, false)", [f"geodispatch.{key}", value])
            conn.execute((HERE / name).read_text())
    except psycopg.Error as error:
        raise SystemExit(f"config/{name} failed as {user_of(url)}: {error}") from None


def roles_ensure(superuser_url, *, owner=OWNER_ROLE, runtime=RUNTIME_ROLE):
    """Create the owner and runtime roles unless they exist; give the owner the database and its objects."""
    run_sql_file(superuser_url, "db_roles.sql", owner_role=owner, runtime_role=runtime)


def runtime_grant(owner_url, *, runtime=RUNTIME_ROLE):
    """Give the runtime role its rights on the owner's tables; run after every migrate."""
    run_sql_file(owner_url, "runtime_grants.sql", runtime_role=runtime)


def user_of(url):
    """Return the role a database URL connects as."""
    return unquote(urlsplit(url).username or "")


def url_as(url, role, password=None):
    """Return url connecting as role (without a password unless given: the embedded socket is trusted)."""
    parts = urlsplit(url)
    login = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{login}@{host}", parts.path, parts.query, parts.fragment))
