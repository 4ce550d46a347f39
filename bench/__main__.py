"""./geodispatch bench [--only routing,map,bare,e2e,replay,memory,faults] [--rates 20,40,80,160] [--duration 30]

Run by config/stack.py with the embedded services up (or DATABASE_URL / REDIS_URL). Uses its
own database (geodispatch_bench, rebuilt from a template each run), its own channel-layer
prefix and its own ports; all traffic on 127.0.0.1. Writes bench/results/<name>.json,
bench/results/summary.json and the results table in bench/README.md.
"""

import argparse
import asyncio
import os
import sys
import time

from bench import common
from bench.common import ROOT, say
from bench.system import FAULTS

SECTIONS = ("routing", "map", "bare", "e2e", "replay", "memory", "faults")
ON_BENCH_DB = set(SECTIONS) - {"faults"}  # faults run a whole second system of their own



def parse(argv):
    p = argparse.ArgumentParser(prog="./geodispatch bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    p.add_argument("--rates", default="20,40,80,160,320", help="incidents/s, stepped until p99 > 250 ms or errors")
    p.add_argument("--duration", type=float, default=30, help="seconds at the first rate")
    p.add_argument("--step-duration", type=float, default=20, help="seconds at each higher rate")
    p.add_argument("--counties", type=int, default=100, help="counties × 6 kinds = sub-centers with a terminal")
    p.add_argument("--points", type=int, default=100_000, help="points for bulk routing")
    p.add_argument("--sample", type=int, default=5_000, help="points for PostGIS latency and agreement")
    p.add_argument("--idle", type=int, default=2000, help="idle connections for the memory figure")
    p.add_argument("--faults", default=",".join(FAULTS), help="which faults (the faults section)")
    p.add_argument("--name", default=time.strftime("run-%Y%m%d-%H%M%S"))
    return p.parse_args(argv)


def main(argv):
    args = parse(argv)
    only = set(args.only.split(","))
    rates = [float(r) if "." in r else int(r) for r in args.rates.split(",")]
    started = time.monotonic()
    common.raise_fd_limit()
    result = {"name": args.name, "machine": common.machine_facts(), "args": vars(args)}
    if "faults" in only:
        from bench import faults

        result["faults"] = asyncio.run(faults.run_all([f for f in FAULTS if f in args.faults.split(",")]))
        write_faults(result, faults.summary(result["faults"]))
    if only & ON_BENCH_DB:
        on_bench_db(args, only, rates, result)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["machine"]["loadavg_end"] = common.loadavg()
    common.write_result(args.name, result)
    if only >= set(SECTIONS):
        summary = {**headline(result), **faults.summary(result["faults"])}
        common.write_result("summary", summary)
        from bench.report import update_readme
        update_readme(result, summary)
    say(f"done in {result['seconds']} s")
    return 0


def write_faults(result, figures):
    """Merge the faults.* figures into summary.json and rewrite the faults table in the README."""
    from bench.report import update_faults_table

    common.write_result("summary", {**common.read_result("summary"), **figures})
    update_faults_table(result)


def on_bench_db(args, only, rates, result):
    """Run the sections that share the bench database and the synthetic counties."""
    say("preparing the bench database (geodispatch_bench)")
    result["database"] = common.prepare_database(os.environ)
    os.environ["DATABASE_URL"] = common.database_url(os.environ, common.BENCH_DB)
    os.environ["CHANNEL_LAYER_PREFIX"] = f"gdbench{os.getpid()}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["PYTHONPATH"] = str(ROOT)
    import logging

    import django
    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result["servers"] = common.server_versions()

    from bench import e2e, maps, memory, routing

    if "routing" in only:
        t0 = time.monotonic()
        result["routing"] = routing.run(bulk_points=args.points, sample=args.sample)
        result["routing"]["seconds"] = round(time.monotonic() - t0, 1)
        result["routing"]["loadavg_after"] = common.loadavg()
    if "map" in only:
        t0 = time.monotonic()
        result["map"] = maps.run()
        result["map"]["seconds"] = round(time.monotonic() - t0, 1)
        figures = maps.summary(result["map"])
        common.write_result("summary", {**common.read_result("summary"), **figures})
        maps.update_readme(result, figures)
    if not only & {"bare", "e2e", "replay", "memory"}:
        return
    say(f"fixture: {args.counties} counties × 6 kinds, operators with tokens, 10 dispatchers")
    fx = e2e.fixture(args.counties)
    result["fixture"] = {"counties": len(fx["counties"]), "operators": len(fx["operators"]), "points": len(fx["points"])}
    procs = common.Processes(dict(os.environ))
    try:
        if "bare" in only:
            say("bare minimum: websockets server + one INSERT per report")
            port = common.free_port()
            server = procs.start("bare", [sys.executable, "-m", "bench.bare", str(port)], port)
            result["bare"] = asyncio.run(e2e.bare(port, len(fx["operators"]), rate=rates[0], duration_s=args.duration))
            procs.stop(server)
        if "e2e" in only:
            port_a, _ = procs.daphne("daphne-a")
            port_b, _ = procs.daphne("daphne-b")
            procs.worker()
            say(f"e2e: two Daphne processes ({port_a}, {port_b}), the worker, PostGIS, Redis")
            result["e2e"] = asyncio.run(e2e.ours(fx, [port_a, port_b], rates=rates, first_duration_s=args.duration,
                                                 duration_s=args.step_duration))
            procs.stop_all()
        if "replay" in only:  # fresh processes, no worker: no deadline escalations among the replayed events
            ports = [procs.daphne("replay-a")[0], procs.daphne("replay-b")[0]]
            result["replay"] = asyncio.run(e2e.replay(fx, ports))
            procs.stop_all()
        if "memory" in only:
            port, process = procs.daphne("daphne-memory")
            result["memory"] = asyncio.run(memory.idle_connections(
                port, process.pid, [op["key"] for op in fx["operators"]], n=args.idle))
            procs.stop(process)
    except BaseException as problem:
        result["failed"] = repr(problem)
        common.write_result(args.name, result)
        raise
    finally:
        result["exit_codes"] = {str(p.args[:4]): p.poll() for p in procs.children}
        procs.stop_all()


def headline(r):
    e2e, first = r["e2e"], r["e2e"]["steps"][0]
    bare = r["bare"]["issued"]["p50_ms"]
    return {
        "routing.bulk_points_per_s": r["routing"]["bulk"]["points_per_s"],
        "routing.postgis_p50_ms": r["routing"]["postgis_one_kind"]["p50_ms"],
        "routing.agreement": r["routing"]["agreement"]["ratio"],
        "e2e.rate_per_s": first["rate_per_s"],
        "e2e.terminals": e2e["terminals"],
        "e2e.p50_ms": first["issued"]["p50_ms"],
        "e2e.p90_ms": first["issued"]["p90_ms"],
        "e2e.p99_ms": first["issued"]["p99_ms"],
        "e2e.lost": first["lost"],
        "e2e.duplicated": first["duplicated"],
        "e2e.capacity_per_s": e2e["capacity_per_s"],
        "bare.p50_ms": bare,
        "e2e.ratio_to_bare_p50": round(first["issued"]["p50_ms"] / bare, 2) if bare else None,
        "replay.events": r["replay"]["events_received"],
        "replay.seconds": r["replay"]["seconds"],
        "memory.idle_connections": r["memory"]["idle_connections"],
        "memory.rss_mb": r["memory"]["rss_mb"],
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
