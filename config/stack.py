"""Start the embedded services and run the system or its tests.

Called by ./geodispatch once the system packages and the virtualenv exist.
Standard library, supervisor and psycopg (config/dbroles.py) only: Django is not configured
until the services are up.
`run` keeps the services, Daphne and the workers under supervisord (config/supervision.py).

Embedded defaults (all under .data/, git-ignored):
- a private PostgreSQL cluster with PostGIS on a unix socket (no TCP port), run as the
  ``postgres`` system user when we are root, because PostgreSQL refuses to run as root; the
  system connects as a runtime role and migrates as the owner role (config/dbroles.py);
- a private Redis on a unix socket (no TCP port), nothing persisted;
- a generated SECRET_KEY and the demo users' generated passwords;
- the event log's Ed25519 signing key (event_signing_key, its public keys in event_signing_key.pub).
DATABASE_URL / REDIS_URL in the environment replace the embedded service.
"""

import hashlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import dbroles

ROOT = Path(__file__).resolve().parent.parent
# GEODISPATCH_DATA: another folder for the embedded services, logs and secrets (several systems on one
# machine; the fault tests run a whole second system this way).
DATA = Path(os.environ.get("GEODISPATCH_DATA") or ROOT / ".data").resolve()
PG_DIR = DATA / "pg"
REDIS_DIR = DATA / "redis"
PG_DB = "geodispatch"
PG_SUPERUSER = "postgres"


def say(message):
    print(f"\033[1m[geodispatch]\033[0m {message}", file=sys.stderr, flush=True)


def pg_bin(name):
    versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
    return str(versions[-1] / "bin" / name)


def as_cluster_owner(cmd):
    """Return cmd run as the unprivileged cluster owner when we are root."""
    if os.getuid() == 0:
        return ["runuser", "-u", PG_SUPERUSER, "--", *cmd]
    return cmd


def owner_can_reach(path):
    """Tell whether the cluster owner can traverse every folder down to path."""
    if os.getuid() != 0:
        return True
    probe = subprocess.run(as_cluster_owner(["test", "-x", str(path)]), capture_output=True)
    return probe.returncode == 0


def cluster_home():
    """Return the folder that holds the cluster, creating it owned by the cluster owner.

    A clone under a folder the postgres user cannot enter (mktemp -d makes 0700
    folders) keeps its cluster in /var/lib/geodispatch/<hash of the path> instead,
    linked from .data/pg, so the cluster still belongs to this checkout.
    """
    DATA.mkdir(parents=True, exist_ok=True)
    if PG_DIR.is_symlink() and not PG_DIR.exists():  # its folder outside was removed: start afresh
        PG_DIR.unlink()
    if PG_DIR.exists():
        home = PG_DIR.resolve()
    elif owner_can_reach(DATA):
        PG_DIR.mkdir()
        home = PG_DIR
    else:
        digest = hashlib.sha1(str(DATA).encode()).hexdigest()[:12]
        home = Path("/var/lib/geodispatch") / digest
        home.mkdir(parents=True, exist_ok=True)
        PG_DIR.symlink_to(home)
        say(f"postgres cannot enter {DATA}; the cluster lives in {home} (linked as .data/pg)")
    if os.getuid() == 0:  # every time: a folder left half-made by an earlier start is the owner's too
        owner = pwd.getpwnam(PG_SUPERUSER)
        os.chown(home, owner.pw_uid, owner.pw_gid)
    return home


def socket_dir(home):
    return home / "run"


def pg_is_running(home):
    status = subprocess.run(
        as_cluster_owner([pg_bin("pg_ctl"), "-D", str(home / "data"), "status"]),
        capture_output=True,
    )
    return status.returncode == 0


def pg_init(home):
    say("creating the embedded PostgreSQL cluster in .data/pg")
    subprocess.run(
        as_cluster_owner([
            pg_bin("initdb"), "-D", str(home / "data"), "-U", PG_SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        ]),
        check=True, stdout=subprocess.DEVNULL,
    )
    run_dir = socket_dir(home)
    run_dir.mkdir(exist_ok=True)
    if os.getuid() == 0:
        owner = pwd.getpwnam(PG_SUPERUSER)
        os.chown(run_dir, owner.pw_uid, owner.pw_gid)
    with open(home / "data" / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# GeoDispatch embedded defaults: unix socket only, inside this folder.\n"
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{run_dir}'\n"
            "unix_socket_permissions = 0770\n"
            "max_connections = 200\n"
            "shared_buffers = 256MB\n"
        )


def pg_prepare():
    """Return the embedded cluster's folder, creating the cluster if needed."""
    home = cluster_home()
    if not (home / "data" / "PG_VERSION").exists():
        pg_init(home)
    return home


def pg_url(home, role=PG_SUPERUSER):
    return f"postgres://{role}@/{PG_DB}?host={socket_dir(home)}"


def pg_ensure_roles(home):
    """Make the owner and runtime roles and give the owner the database; return (runtime URL, owner URL).

    Idempotent: a database an earlier version filled as the superuser passes to the owner once.
    """
    dbroles.roles_ensure(pg_url(home))
    return pg_url(home, dbroles.RUNTIME_ROLE), pg_url(home, dbroles.OWNER_ROLE)


def pg_ensure_database(home):
    """Create the geodispatch database in the running cluster unless it exists."""
    run_dir = socket_dir(home)
    exists = subprocess.run(
        [pg_bin("psql"), "-h", str(run_dir), "-U", PG_SUPERUSER, "-d", "postgres", "-tAc",
         f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            [pg_bin("createdb"), "-h", str(run_dir), "-U", PG_SUPERUSER, PG_DB], check=True
        )


def pg_start():
    """Start the embedded cluster if needed; return (its folder, started_by_us)."""
    home = pg_prepare()
    started = False
    if not pg_is_running(home):
        subprocess.run(
            as_cluster_owner([
                pg_bin("pg_ctl"), "-D", str(home / "data"), "-l", str(home / "server.log"),
                "-w", "-t", "60", "start",
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )
        started = True
    pg_ensure_database(home)
    return home, started


def pg_program(home):
    """Return the supervised form of the embedded cluster: postgres in the foreground, as its owner."""
    from config.supervisor_conf import service_section

    return service_section(
        "postgres", [pg_bin("postgres"), "-D", str(home / "data")], directory=home,
        user=PG_SUPERUSER if os.getuid() == 0 else None,
        stopsignal="INT",  # fast shutdown; SIGTERM would wait for every client to leave
    )


def pg_wait(home, timeout=60):
    """Return once the cluster accepts connections, with the geodispatch database and its roles in it."""
    deadline = time.monotonic() + timeout
    ready = [pg_bin("pg_isready"), "-q", "-h", str(socket_dir(home)), "-U", PG_SUPERUSER, "-d", "postgres"]
    while subprocess.run(ready).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"embedded PostgreSQL did not start; see {DATA / 'logs' / 'postgres.log'}")
        time.sleep(0.2)
    pg_ensure_database(home)
    pg_ensure_roles(home)


def pg_stop():
    home = PG_DIR.resolve()
    subprocess.run(
        as_cluster_owner([pg_bin("pg_ctl"), "-D", str(home / "data"), "-m", "fast", "-w", "stop"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def redis_command(sock):
    """Return the embedded Redis's command line (in the foreground; unix socket only, nothing saved)."""
    return [
        shutil.which("redis-server") or "/usr/bin/redis-server",
        "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--save", "", "--appendonly", "no", "--dir", str(REDIS_DIR), "--maxclients", "10000",
    ]


def redis_start():
    """Start the embedded Redis if needed; return (REDIS_URL, started_by_us)."""
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    sock = REDIS_DIR / "redis.sock"
    url = f"unix://{sock}"
    if redis_ping(sock):
        return url, False
    subprocess.run(
        [*redis_command(sock), "--daemonize", "yes", "--pidfile", str(REDIS_DIR / "redis.pid"),
         "--logfile", str(REDIS_DIR / "redis.log")],
        check=True,
    )
    redis_wait(sock, REDIS_DIR / "redis.log")
    return url, True


def redis_wait(sock, log, timeout=5):
    deadline = time.monotonic() + timeout
    while not redis_ping(sock):
        if time.monotonic() > deadline:
            raise SystemExit(f"embedded Redis did not start; see {log}")
        time.sleep(0.05)


def redis_ping(sock):
    if not sock.exists():
        return False
    probe = subprocess.run(
        ["redis-cli", "-s", str(sock), "ping"], capture_output=True, text=True
    )
    return probe.stdout.strip() == "PONG"


def redis_stop():
    subprocess.run(
        ["redis-cli", "-s", str(REDIS_DIR / "redis.sock"), "shutdown", "nosave"],
        capture_output=True,
    )


def secret_key():
    path = DATA / "secret_key"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def event_signing_key(env):
    """Create the event log's signing key on first start (mode 0600) and print its public key, once."""
    from dispatch.signing import key_create  # needs `cryptography` from the virtualenv, not Django

    path = Path(env.get("EVENT_SIGNING_KEY") or DATA / "event_signing_key")
    if not path.exists():
        public = key_create(path)
        say(f"created the event signing key {path}; give auditors its public key (also in {path}.pub):\n{public}")


def base_env():
    """Return the environment every command runs in, before its services are chosen."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SECRET_KEY", secret_key())
    env.setdefault("DJANGO_DEMO_DIR", str(DATA))
    env["PYTHONPATH"] = str(ROOT)
    return env


class Services:
    """The embedded services this invocation started, so it stops exactly those."""

    def __init__(self):
        self.stops = []

    def up(self, *, roles=False):
        """Start what is missing; with roles, connect as the runtime role and migrate as the owner.

        The tests and the bench keep the superuser: they create databases of their own.
        """
        env = base_env()
        if not env.get("DATABASE_URL"):
            home, started = pg_start()
            if started:
                self.stops.append(pg_stop)
            env["DATABASE_URL"] = pg_url(home)
            if roles:
                env["DATABASE_URL"], env["MIGRATE_DATABASE_URL"] = pg_ensure_roles(home)
        if not env.get("REDIS_URL"):
            env["REDIS_URL"], started = redis_start()
            if started:
                self.stops.append(redis_stop)
        return env

    def down(self):
        for stop in reversed(self.stops):
            stop()
        self.stops.clear()


def manage(env, *args, check=True):
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=check)


def migrate(env, *args, check=True):
    """Migrate (as the owner when MIGRATE_DATABASE_URL is set), then give the runtime role its rights."""
    done = manage(env, "migrate", *args, check=check)
    owner_url, runtime = env.get("MIGRATE_DATABASE_URL"), dbroles.user_of(env["DATABASE_URL"])
    if done.returncode == 0 and owner_url and runtime != dbroles.user_of(owner_url):
        dbroles.runtime_grant(owner_url, runtime=runtime)
    return done


def without_owner(env):
    """Return env without the owner's URL: only migrate runs as the owner."""
    return {name: value for name, value in env.items() if name != "MIGRATE_DATABASE_URL"}


def supervised_services(env):
    """Return the embedded services to supervise (those not running yet) and how to wait for each.

    Sets DATABASE_URL / REDIS_URL to the embedded ones unless they are given; the embedded
    cluster is reached as the runtime role, and as the owner by migrate (MIGRATE_DATABASE_URL).
    """
    from config.supervisor_conf import service_section

    sections, waits = {}, []
    if not env.get("DATABASE_URL"):
        home = pg_prepare()
        env["DATABASE_URL"] = pg_url(home, dbroles.RUNTIME_ROLE)
        env["MIGRATE_DATABASE_URL"] = pg_url(home, dbroles.OWNER_ROLE)
        if not pg_is_running(home):
            sections.update(pg_program(home))
        waits.append(lambda: pg_wait(home))
    if not env.get("REDIS_URL"):
        REDIS_DIR.mkdir(parents=True, exist_ok=True)
        sock = REDIS_DIR / "redis.sock"
        env["REDIS_URL"] = f"unix://{sock}"
        if not redis_ping(sock):
            sections.update(service_section("redis", redis_command(sock), directory=REDIS_DIR))
        waits.append(lambda: redis_wait(sock, DATA / "logs" / "redis.log", timeout=30))
    return sections, waits


def run_system():
    """Run everything under supervisord until Ctrl-C or SIGTERM; return its exit code."""
    from config import processes, supervision, supervisor_conf

    env = base_env()
    event_signing_key(env)
    services, waits = supervised_services(env)
    app_env = without_owner(env)  # supervisord's children inherit its environment
    text = supervisor_conf.config_text(app_env, services)
    supervisor = supervision.Supervisor(DATA)
    try:
        supervisor.start(app_env, text)
        for wait in waits:
            wait()
        migrate(env, "--no-input", "-v", "0")
        manage(app_env, "load_sample_city", "--demo-logins", str(DATA / "demo_logins.json"))
        supervisor.start_app()
        processes.print_welcome(env)
        return supervisor.wait()
    except (supervision.SupervisorError, subprocess.CalledProcessError) as error:
        say(f"{error}")
        return 1
    finally:
        # Stop in order even if Ctrl-C is pressed again meanwhile; stop() is bounded in time.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()


def run_tests(env, args):
    command = [sys.executable, "-m", "pytest", *args]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


def run_bench(env, args):
    """The benchmarks (bench/README.md): their own database, prefix and ports; never in `test`."""
    return subprocess.run([sys.executable, "-m", "bench", *args], env=env, cwd=ROOT).returncode


def run_with_services(argv):
    """Run test, bench or manage against the services, stopping those this call started."""
    services = Services()
    try:
        env = services.up(roles=argv[0] == "manage")
        if argv[0] == "test":
            return run_tests(without_owner(env), argv[1:])
        if argv[0] == "bench":
            return run_bench(without_owner(env), argv[1:])
        if argv[1:2] == ["migrate"]:
            return migrate(env, *argv[2:], check=False).returncode
        return manage(without_owner(env), *argv[1:], check=False).returncode
    finally:
        services.down()


def main(argv):
    if not argv or argv[0] not in {"run", "status", "test", "manage", "bench"}:
        print(__doc__.split("\n\n")[0],
              "\nusage: ./geodispatch run | status | test [PYTEST ARGS] | manage ARGS | bench [ARGS]")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ctrl-C stops everything, even when a parent shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if argv[0] == "status":
            from config import supervision

            return supervision.print_status(DATA)
        if argv[0] == "run":
            return run_system()
        return run_with_services(argv)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
