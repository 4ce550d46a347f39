"""The fault bench: each single fault at 10 incidents/s with 600 terminals, and how long it costs.

A second system runs with `./geodispatch run` in its own folder (bench/system.py), with the
sample city's 48 sub-centers; 600 terminals (12–13 screens per sub-center, one of which sends the
receipts) and a dispatcher stream stay connected throughout. For each fault: reports at RATE for
DURATION_S, the fault at FAULT_AT_S. Per fault it records

- `recovery_s`: seconds from the fault's end (the kill, or the service back) until reports are
  stored at the first attempt again and live push is back under 100 ms p99, whichever is later;
- `failed_reports`: report attempts that were not stored (each was retried with its key);
- `lost`, `duplicated`: (ticket, screen) pairs that never got, or got twice, the ticket.issued;
- `false_escalations`: tickets on a screen that climbed past rung 1.
"""

import asyncio
import json
import tempfile
import time

import httpx
import shapely

from bench.common import percentile, say
from bench.system import Reporter, System, Terminal, strike

RATE, DURATION_S, FAULT_AT_S = 10, 30, 5
TERMINALS = 600
PUSH_P99_MS = 100
BIN_S = 1.0
CATEGORIES = [("flood", 4), ("traffic_accident", 3), ("epidemic", 4), ("building_fire", 3)]


def county_points(base, key):
    """Return a point inside each county of the sample city (its own jurisdictions)."""
    response = httpx.get(f"{base}/api/v1/jurisdictions", headers={"Authorization": f"Token {key}"}, timeout=30)
    counties = [f for f in response.json()["features"] if f["properties"]["level"] == "county"]
    return [list(shapely.geometry.shape(f["geometry"]).representative_point().coords[0]) for f in counties]


async def one_fault(system, fault, screens, key):
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as client:
        places = await asyncio.to_thread(county_points, system.base, key)
        reporter = Reporter(client, system.base, key, f"bench-{fault}-{int(time.time())}", places=places)
        sending = asyncio.create_task(reporter.run(int(RATE * DURATION_S), 1 / RATE))
        await asyncio.sleep(FAULT_AT_S)
        await strike(system, fault)
        lifted = time.monotonic()
        await sending
        await asyncio.sleep(10)  # the drain: what is still on its way
        tickets = await client.get(f"{system.base}/api/v1/tickets", params={"limit": 5000},
                                   headers={"Authorization": f"Token {key}"})
    return measure(reporter, screens, lifted, {t["id"]: t for t in tickets.json()["tickets"]})


def measure(reporter, screens, lifted, now):
    issued = {t["id"]: (key, t["subcenter"]["id"]) for key, body in reporter.stored.items() for t in body["tickets"]}
    lost = duplicated = 0
    latencies = []  # (report sent, ms until the first screen of its sub-center showed it)
    for ticket_id, (key, subcenter) in issued.items():
        counts = [screen.issued.get(ticket_id, 0) for screen in screens[subcenter]]
        lost += counts.count(0)
        duplicated += sum(1 for c in counts if c > 1)
        arrivals = [screen.arrived[ticket_id] for screen in screens[subcenter] if ticket_id in screen.arrived]
        if arrivals:
            latencies.append((reporter.sent[key], (min(arrivals) - reporter.sent[key]) * 1000))
    false = sum(1 for ticket_id in issued if now.get(ticket_id, {}).get("escalation_level", 0) > 1)
    return {
        "reports": len(reporter.stored), "tickets": len(issued), "failed_reports": len(reporter.failures),
        "lost": lost, "duplicated": duplicated, "false_escalations": false,
        "recovery_s": round(max(reports_recovery(reporter, lifted), push_recovery(latencies, lifted)), 2),
        "slowest_attempt_s": round(reporter.slowest, 2),
    }


def reports_recovery(reporter, lifted):
    """Return the seconds from the fault's end to the end of the last attempt that was not stored."""
    return max([t - lifted for t in reporter.failed_at] + [0.0])


def push_recovery(latencies, lifted):
    """Return the seconds from the fault's end after which every 1 s bin of reports has p99 ≤ 100 ms."""
    bins = {}
    for sent, ms in latencies:
        bins.setdefault(int((sent - lifted) // BIN_S), []).append(ms)
    bad = [b for b, values in bins.items() if percentile(values, 99) > PUSH_P99_MS]
    return max([(b + 1) * BIN_S for b in bad] + [0.0])


async def run_all(faults):
    with tempfile.TemporaryDirectory(prefix="gd-faults-") as home:
        system = System(home)
        say("faults: starting a second system with ./geodispatch run (its own PostgreSQL and Redis)")
        await asyncio.to_thread(system.start)
        try:
            return await with_screens(system, faults)
        finally:
            system.stop()


async def with_screens(system, faults):
    operators = sorted(name for name in system.logins if name.startswith("op-"))
    keys = await asyncio.to_thread(system.tokens, [*operators, "dispatcher"])
    subcenters = await asyncio.to_thread(subcenter_ids, system, keys["dispatcher"])
    screens, tasks = {}, []
    for i in range(TERMINALS):
        name = operators[i % len(operators)]
        screen = Terminal(system.base, keys[name], receipts=i < len(operators))
        screens.setdefault(subcenters[name.removeprefix("op-")], []).append(screen)
        tasks.append(asyncio.create_task(screen.run()))
    console = Terminal(system.base, keys["dispatcher"], receipts=False)
    tasks.append(asyncio.create_task(console.run()))
    await wait_connected([s for group in screens.values() for s in group])
    results = {}
    try:
        for fault in faults:
            say(f"faults: {fault}")
            results[fault] = await one_fault(system, fault, screens, keys["dispatcher"])
            say(f"    {json.dumps(results[fault])}")
            await asyncio.to_thread(settle, system)
    finally:
        for task in tasks:
            task.cancel()
    return {"rate_per_s": RATE, "duration_s": DURATION_S, "terminals": TERMINALS, "faults": results,
            **totals(results)}


def subcenter_ids(system, key):
    response = httpx.get(f"{system.base}/api/v1/subcenters", headers={"Authorization": f"Token {key}"}, timeout=30)
    return {s["code"]: s["id"] for s in response.json()["subcenters"]}


async def wait_connected(screens, timeout=120):
    deadline = time.monotonic() + timeout
    while not all(s.connects for s in screens) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def settle(system, timeout=60):
    """Wait until every supervised process runs and the system answers again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {info["statename"] for info in system.processes().values()}
        if states == {"RUNNING"} and system.healthy():
            return
        time.sleep(0.5)


def totals(results):
    return {key: sum(r[key] for r in results.values()) for key in ("lost", "duplicated", "false_escalations")}


def summary(result):
    """Return the faults.* figures of summary.json."""
    figures = {f"faults.{k}": result[k] for k in ("lost", "duplicated", "false_escalations")}
    for fault, r in result["faults"].items():
        figures[f"faults.{fault}.recovery_s"] = r["recovery_s"]
        figures[f"faults.{fault}.failed_reports"] = r["failed_reports"]
    return figures
