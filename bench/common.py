"""Shared pieces of the benchmarks: the bench database, processes, statistics, machine facts."""

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config.processes import daphne_command, free_port, stop_process, wait_listening

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = ROOT / ".data" / "bench-logs"
COUNTIES = ROOT.parent / "shared" / "data" / "china" / "china_county_level_datav_gcj02.geojson"
KINDS = ["water", "civil_air_defense", "earthquake", "civil_affairs", "health", "fire"]
BENCH_DB = "geodispatch_bench"
TEMPLATE_DB = "geodispatch_bench_geo"  # migrated + China counties imported, reused across runs
TEMPLATE_MARK = "geodispatch bench template v1 complete"


def say(message):
    print(f"\033[1m[bench]\033[0m {message}", file=sys.stderr, flush=True)


# ---- statistics ------------------------------------------------------------------------


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a list; None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary_ms(seconds):
    """Median, p90, p99, max and count of a list of durations in seconds, in ms."""
    ms = [s * 1000 for s in seconds]
    pick = lambda q: round(percentile(ms, q), 2) if ms else None  # noqa: E731
    return {"n": len(ms), "p50_ms": pick(50), "p90_ms": pick(90), "p99_ms": pick(99),
            "max_ms": round(max(ms), 2) if ms else None}


# ---- machine facts -----------------------------------------------------------------------


def _version(module):
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return None


def machine_facts():
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    facts = {
        "cores": os.cpu_count(), "cpu": cpu, "memory_mb": mem_kb // 1024,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(), "python": platform.python_version(),
        "versions": {m: _version(m) for m in (
            "Django", "channels", "channels-redis", "daphne", "redis", "Twisted", "psycopg", "shapely",
            "numpy", "websockets")},
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return facts


def server_versions():
    """PostgreSQL, PostGIS and Redis versions, from the running services (Django set up)."""
    from django.db import connection
    out = {}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        out["postgresql"] = cursor.fetchone()[0]
        cursor.execute("SELECT postgis_lib_version()")
        out["postgis"] = cursor.fetchone()[0]
    try:
        out["redis"] = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    except Exception:
        pass
    return out


def read_result(name):
    """Return a result file's data, or {} when there is none yet."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def write_result(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    say(f"wrote {path.relative_to(ROOT)}")
    return path


# ---- the bench database --------------------------------------------------------------------


def database_url(env, name):
    """The DATABASE_URL of env with its database name replaced."""
    parts = urlsplit(env["DATABASE_URL"])
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _libpq(url):
    return url.replace("postgres://", "postgresql://", 1)


def _admin(env, sql_list):
    import psycopg
    with psycopg.connect(_libpq(database_url(env, "postgres")), autocommit=True) as conn:
        results = []
        for sql, params in sql_list:
            cur = conn.execute(sql, params)
            results.append(cur.fetchall() if cur.description else None)
        return results


def prepare_database(env):
    """Make a fresh geodispatch_bench from the template, building the template once.

    The template holds the migrated schema and the 2,878 China counties (GCJ-02 → WGS 84),
    each with one sub-center of each of the six kinds (17,268 sub-centers). Returns facts.
    """
    facts = {}
    marked = _admin(env, [(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [TEMPLATE_DB])])[0]
    if not marked or marked[0][0] != TEMPLATE_MARK:
        say(f"building the template database {TEMPLATE_DB} (once; about 2–4 minutes)")
        _admin(env, [(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)', None),
                     (f'CREATE DATABASE "{TEMPLATE_DB}"', None)])
        tenv = dict(env, DATABASE_URL=database_url(env, TEMPLATE_DB))
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=tenv, cwd=ROOT, check=True)
        started = time.monotonic()
        subprocess.run([*manage, "import_geodata", str(COUNTIES), "--jurisdictions", "--name-field", "name",
                        "--code-field", "adcode", "--level", "county", "--gcj02",
                        "--subcenter-kinds", ",".join(KINDS)], env=tenv, cwd=ROOT, check=True)
        facts["import_s"] = round(time.monotonic() - started, 1)
        _admin(env, [(f"COMMENT ON DATABASE \"{TEMPLATE_DB}\" IS '{TEMPLATE_MARK}'", None)])
    _admin(env, [(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)', None),
                 (f'CREATE DATABASE "{BENCH_DB}" TEMPLATE "{TEMPLATE_DB}"', None)])
    benv = dict(env, DATABASE_URL=database_url(env, BENCH_DB))
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v", "0"],
                   env=benv, cwd=ROOT, check=True)
    return facts


# ---- processes -------------------------------------------------------------------------------


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Processes:
    """Child processes started by the bench; each is stopped by its own pid."""

    def __init__(self, env):
        self.env = env
        self.children = []
        LOGS.mkdir(parents=True, exist_ok=True)

    def start(self, name, cmd, port=None):
        log = LOGS / f"{name}.log"
        process = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=open(log, "wb"), start_new_session=True)
        self.children.append(process)
        if port:
            try:
                wait_listening(port, process, log)
            except RuntimeError as problem:
                raise SystemExit(str(problem)) from None
        return process

    def daphne(self, name):
        port = free_port()
        process = self.start(name, daphne_command(port), port)
        return port, process

    def worker(self):
        return self.start("worker", [sys.executable, "manage.py", "run_dispatch_worker"])

    def stop(self, process):
        stop_process(process)

    def stop_all(self):
        for process in reversed(self.children):
            self.stop(process)
        self.children.clear()


def rss_mb(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields
