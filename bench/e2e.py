"""End to end on the real topology, the bare minimum beside it, and reconnect replay.

PostgreSQL/PostGIS + Redis + two Daphne processes + the deadline worker; the load generator
(bench.load) drives them over REST and the stream only, from 127.0.0.1.
"""

import asyncio
import random
import secrets

import numpy as np
import shapely

from bench.common import KINDS, loadavg, say
from bench.load import Client, Hub, now

# (category, severity): single- and multi-kind plans, so all six kinds get tickets
REPORTS = [("flood", 3), ("earthquake", 3), ("building_fire", 3), ("epidemic", 2), ("displaced_residents", 2),
           ("air_raid", 2)]


# ---- fixture -----------------------------------------------------------------------------


def fixture(n_counties=100, points_per_county=30, seed=11):
    """Operators (one per sub-center of n_counties × 6 kinds, token each), 10 dispatchers,
    and points inside each chosen county that route to that county's sub-centers."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from api.models import ApiToken, digest
    from api.tokens import token_issue
    from dispatch.models import OperatorPost
    from dispatch.services import user_add
    from geo.bulk import CoverageIndex
    from geo.models import Jurisdiction, SubCenter

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fixture only
    codes = list(Jurisdiction.objects.order_by("code").values_list("code", flat=True))
    chosen = codes[:: len(codes) // n_counties][:n_counties]
    subcenters = list(SubCenter.objects.filter(jurisdictions__code__in=chosen).order_by("code").values_list("id", "code"))
    User = get_user_model()
    unusable = make_password(None)
    users = User.objects.bulk_create([User(username=f"bench-op-{code}", password=unusable) for _, code in subcenters])
    group, _ = Group.objects.get_or_create(name="operator")
    User.groups.through.objects.bulk_create([User.groups.through(user_id=u.id, group_id=group.id) for u in users])
    OperatorPost.objects.bulk_create([OperatorPost(user=u, subcenter_id=sid) for u, (sid, _) in zip(users, subcenters)])
    keys = [secrets.token_urlsafe(32) for _ in users]  # the terminals' device tokens
    ApiToken.objects.bulk_create([
        ApiToken(user=u, kind=ApiToken.Kind.DEVICE, subcenter_id=sid, digest=digest(key), prefix=key[:8])
        for u, (sid, _), key in zip(users, subcenters, keys)
    ])
    operators = [{"subcenter_id": sid, "code": code, "key": key} for (sid, code), key in zip(subcenters, keys)]
    dispatchers = []
    for i in range(10):
        user, _ = user_add(username=f"bench-dispatcher-{i}", role="dispatcher", password=f"bench-{i}-pw")
        dispatchers.append({"user": user, "key": token_issue(user=user)[1]})

    # points inside each chosen county whose six owners are that county's own sub-centers
    rng = np.random.default_rng(seed)
    index = CoverageIndex(KINDS)
    by_code = {code: sid for sid, code in subcenters}
    points = []
    for county in Jurisdiction.objects.filter(code__in=chosen):
        poly = shapely.from_wkb(bytes(county.geom.wkb))
        x0, y0, x1, y1 = poly.bounds
        xs, ys = x0 + rng.random(400) * (x1 - x0), y0 + rng.random(400) * (y1 - y0)
        inside = shapely.contains_xy(poly, xs, ys)
        xs, ys = xs[inside][:points_per_county * 2], ys[inside][:points_per_county * 2]
        routes = index.route(xs, ys)
        ok = np.ones(len(xs), dtype=bool)
        for kind in KINDS:
            ok &= routes.subcenter_ids[kind] == by_code[f"{county.code}-{kind}"]
        points += [(float(x), float(y), county.code) for x, y in zip(xs[ok], ys[ok])][:points_per_county]
    random.Random(seed).shuffle(points)
    return {"counties": chosen, "operators": operators, "dispatchers": dispatchers, "points": points}


def report_request(fx, http_urls):
    keys = [d["key"] for d in fx["dispatchers"]]
    points = fx["points"]

    def request(i):
        lon, lat, _ = points[i % len(points)]
        category, severity = REPORTS[i % len(REPORTS)]
        body = {"category": category, "severity": severity, "title": f"bench {i}",
                "location": {"type": "Point", "coordinates": [lon, lat]}}
        return "POST", f"{http_urls[i % len(http_urls)]}/api/v1/incidents", {
            "json": body, "headers": {"Authorization": f"Token {keys[i % len(keys)]}"}}

    return request


# ---- our system ------------------------------------------------------------------------------


async def ours(fx, ports, *, rates, first_duration_s, duration_s, p99_limit_ms=250, fallback=(10, 5, 2)):
    http_urls = [f"http://127.0.0.1:{p}" for p in ports]
    ws_urls = [f"ws://127.0.0.1:{p}/ws/v1/stream" for p in ports]
    hub = Hub(http_urls=http_urls, dispatcher_keys=[d["key"] for d in fx["dispatchers"]])
    hub.dispatchers = [Client(hub, ws_urls[i % 2], d["key"], "dispatcher", index=i) for i, d in enumerate(fx["dispatchers"])]
    hub.terminals = [Client(hub, ws_urls[i % 2], op["key"], "terminal", subcenter_id=op["subcenter_id"])
                     for i, op in enumerate(fx["operators"])]
    out = {"terminals": len(hub.terminals), "dispatcher_streams": len(hub.dispatchers),
           "terminals_per_process": [len(hub.terminals[0::2]), len(hub.terminals[1::2])], "steps": []}
    try:
        out["connect_dispatchers_s"] = round(await hub.connect_all(hub.dispatchers), 2)
        out["connect_terminals_s"] = round(await hub.connect_all(hub.terminals), 2)
        say(f"e2e: {len(hub.terminals)} terminals + {len(hub.dispatchers)} dispatcher streams connected "
            f"in {out['connect_terminals_s']} s; warming up")
        await asyncio.sleep(3)
        request = report_request(fx, http_urls)
        warm = await hub.step(lambda i: request(100_000 + i), 10, 3, drain_s=10)
        out["warmup"] = {k: warm[k] for k in ("tickets", "lost", "issued", "roundtrip_confirmed")}
        offset = 0
        rates = list(rates)
        n, descending = -1, False
        while n + 1 < len(rates):
            n += 1
            rate = rates[n]
            duration = first_duration_s if n == 0 else duration_s
            load_before = loadavg()
            base = offset
            step = await hub.step(lambda i, base=base: request(base + i), rate, duration, drain_s=30)
            offset += int(rate * duration)
            step["loadavg_before"], step["loadavg_after"] = load_before, loadavg()
            errors = hub.errors(step)
            step["errors"] = errors
            step["passed"] = errors == 0 and (step["issued"]["p99_ms"] or 1e9) <= p99_limit_ms
            out["steps"].append(step)
            say(f"    tickets {step['tickets']}, issued p50 {step['issued']['p50_ms']} p99 {step['issued']['p99_ms']} ms,"
                f" round trip p50 {(step['roundtrip_confirmed'] or {}).get('p50_ms')} ms, lost {step['lost']},"
                f" dup {step['duplicated']}, errors {errors}, load {step['loadavg_after']}")
            if not step["passed"]:
                if n == 0 and fallback:  # the first rate fails: step down to find the capacity
                    rates[1:] = [r for r in fallback if r < rate]
                    fallback, descending = (), True
                    await asyncio.sleep(15)  # let the backlog drain
                    continue
                if descending:
                    await asyncio.sleep(15)
                    continue  # keep stepping down until one passes
                break
            if descending:
                break  # the highest passing rate below the first one
            await asyncio.sleep(2)
        passed = [s["rate_per_s"] for s in out["steps"] if s["passed"]]
        out["capacity_per_s"] = max(passed) if passed else 0
        out["capacity_bounded_by_last_rate"] = all(s["passed"] for s in out["steps"])
    finally:
        await hub.close()
    return out


# ---- the bare minimum ----------------------------------------------------------------------------


async def bare(port, n_terminals, *, rate, duration_s):
    http = f"http://127.0.0.1:{port}"
    hub = Hub(http_urls=[http], dispatcher_keys=[], roundtrip=False, bare=True)
    hub.terminals = [Client(hub, f"ws://127.0.0.1:{port}/", None, "terminal", subcenter_id=k, bare=True)
                     for k in range(n_terminals)]
    for c in hub.terminals:
        c.url = f"ws://127.0.0.1:{port}/?terminal={c.subcenter_id}"
    rng = random.Random(5)
    targets = [rng.randrange(n_terminals) for _ in range(int(rate * duration_s) + 200)]
    try:
        connect_s = await hub.connect_all(hub.terminals)
        await asyncio.sleep(1)
        await hub.step(lambda i: ("GET", f"{http}/report?terminal={targets[-1 - i % 100]}", {}), 10, 3, drain_s=5)
        step = await hub.step(lambda i: ("GET", f"{http}/report?terminal={targets[i]}", {}), rate, duration_s)
        step["loadavg_after"] = loadavg()
        step["connect_terminals_s"] = round(connect_s, 2)
        step["terminals"] = n_terminals
        say(f"    bare: issued p50 {step['issued']['p50_ms']} p99 {step['issued']['p99_ms']} ms, lost {step['lost']}")
        return step
    finally:
        await hub.close()


# ---- reconnect replay ---------------------------------------------------------------------------


class _Counter:
    """A stand-in hub for one replaying client: counts events until a target seq."""

    heartbeat_s = 15

    def __init__(self):
        self.run = type("R", (), {"action_errors": []})()
        self.count = 0
        self.target = None
        self.done = asyncio.Event()
        self.finished_at = None

    async def on_event(self, client, frame, t):
        self.count += 1
        if self.target is not None and frame["seq"] >= self.target and not self.done.is_set():
            self.finished_at = t
            self.done.set()


async def replay(fx, ports, *, events=1000):
    """A terminal away while `events` events of its sub-center commit, then back with since=."""
    from django.db.models import Max

    from dispatch.models import Event
    from dispatch.services import incident_report

    water = next(op for op in fx["operators"] if op["code"].endswith("-water"))
    county = water["code"].rsplit("-", 1)[0]
    lon, lat, _ = next(p for p in fx["points"] if p[2] == county)
    urls = [f"ws://127.0.0.1:{p}/ws/v1/stream" for p in ports]
    keeper_hub, away_hub = _Counter(), _Counter()
    keeper = Client(keeper_hub, urls[1], water["key"], "terminal", subcenter_id=water["subcenter_id"])
    await keeper.connect()  # keeps the sub-center online (no duty-phone paging) while it is away
    away = Client(away_hub, urls[0], water["key"], "terminal", subcenter_id=water["subcenter_id"])
    await away.connect(heartbeat=False)
    since = away.last_seq
    await away.close()
    actor = fx["dispatchers"][0]["user"]

    def make():  # flood severity 3 → water only: incident.reported + ticket.issued = 2 events
        for i in range(events // 2):
            incident_report(actor=actor, category="flood", severity=3, lon=lon, lat=lat, title=f"replay {i}")
        in_scope = Event.objects.filter(seq__gt=since, audience__contains=[water["subcenter_id"]])
        return in_scope.count(), in_scope.aggregate(m=Max("seq"))["m"]

    t0 = now()
    expected, target = await asyncio.to_thread(make)
    made_s = now() - t0
    back_hub = _Counter()
    back_hub.target = target
    back = Client(back_hub, urls[0], water["key"], "terminal", subcenter_id=water["subcenter_id"])
    t0 = now()
    await back.connect(since=since, heartbeat=False)
    hello_s = now() - t0
    try:
        await asyncio.wait_for(back_hub.done.wait(), 30)
        seconds = back_hub.finished_at - t0
    except asyncio.TimeoutError:
        seconds = None
    await back.close()
    await keeper.close()
    result = {"events_expected": expected, "events_received": back_hub.count, "seconds": round(seconds, 3) if seconds else None,
              "connect_to_snapshot_s": round(hello_s, 3), "generate_s": round(made_s, 2),
              "duplicates_dropped": back.duplicate_frames, "loadavg_after": loadavg()}
    say(f"replay: {back_hub.count}/{expected} events in {result['seconds']} s")
    return result
