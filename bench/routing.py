"""Routing on the full China county layer: PostGIS one point at a time vs in-process bulk.

Runs inside the bench process (Django set up on the bench database).
"""

import time

import numpy as np

from bench.common import KINDS, say, summary_ms


def sample_points(n, seed=7):
    """n points, each uniform in the bounding box of a uniformly chosen county (some fall
    outside every county: sea, borders — the router's tolerance and no-owner paths)."""
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM geo_jurisdiction")
        boxes = np.array(cursor.fetchall(), dtype=float)
    rng = np.random.default_rng(seed)
    pick = boxes[rng.integers(0, len(boxes), n)]
    lons = pick[:, 0] + rng.random(n) * (pick[:, 2] - pick[:, 0])
    lats = pick[:, 1] + rng.random(n) * (pick[:, 3] - pick[:, 1])
    return lons, lats, len(boxes)


def postgis_latency(lons, lats, kinds, warmup=200):
    from geo.router import route_point
    for i in range(warmup):
        route_point(lon=float(lons[i]), lat=float(lats[i]), kinds=kinds)
    times, answers = [], []
    started = time.perf_counter()
    for lon, lat in zip(lons.tolist(), lats.tolist()):
        t0 = time.perf_counter()
        routes = route_point(lon=lon, lat=lat, kinds=kinds)
        times.append(time.perf_counter() - t0)
        answers.append(routes)
    wall = time.perf_counter() - started
    return {**summary_ms(times), "points_per_s": round(len(times) / wall, 1)}, answers


def run(*, bulk_points=100_000, sample=5_000):
    from django.db import connection

    from geo.bulk import NO_OWNER, CoverageIndex
    from geo.models import Jurisdiction, SubCenter

    polygons = Jurisdiction.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(ST_NPoints(geom)) FROM geo_jurisdiction")
        vertices = int(cursor.fetchone()[0])
    lons, lats, _ = sample_points(bulk_points)
    result = {"polygons": polygons, "vertices": vertices, "subcenters": SubCenter.objects.count(),
              "kinds": KINDS, "points": bulk_points, "agreement_sample": sample}

    say(f"routing: PostGIS single point, {sample} points, one kind then six kinds")
    one, _ = postgis_latency(lons[:sample], lats[:sample], ["water"])
    six, answers = postgis_latency(lons[:sample], lats[:sample], KINDS)
    result["postgis_one_kind"] = one
    result["postgis_six_kinds"] = six

    say(f"routing: bulk in process, {bulk_points} points, six kinds")
    t0 = time.perf_counter()
    index = CoverageIndex(KINDS)
    build_s = time.perf_counter() - t0
    index.route(lons[:1000], lats[:1000])  # warm
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        routes = index.route(lons, lats)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    # The part that is the point-in-polygon work alone, without the nearest-within-tolerance
    # queries that bulk hands back to PostGIS one point at a time.
    t0 = time.perf_counter()
    index.covering(lons, lats)
    covering_s = time.perf_counter() - t0
    rules = {k: dict(zip(*np.unique(routes.rules[k], return_counts=True))) for k in ("water",)}
    result["bulk"] = {
        "index_build_s": round(build_s, 3), "runs_s": [round(r, 3) for r in runs],
        "points_per_s": round(bulk_points / best), "median_points_per_s": round(bulk_points / sorted(runs)[1]),
        "covering_only_points_per_s": round(bulk_points / covering_s),
        "rules_water": {str(k): int(v) for k, v in rules["water"].items()},
    }

    say("routing: agreement PostGIS vs bulk")
    agree = total = 0
    disagreements = []
    for i, answer in enumerate(answers):
        for kind in KINDS:
            expected = answer[kind].subcenter_id
            got = int(routes.subcenter_ids[kind][i])
            got = None if got == NO_OWNER else got
            total += 1
            if expected == got:
                agree += 1
            elif len(disagreements) < 20:
                disagreements.append({"lon": float(lons[i]), "lat": float(lats[i]), "kind": kind,
                                      "postgis": expected, "bulk": got, "rule": answer[kind].rule})
    result["agreement"] = {"compared": total, "agree": agree, "ratio": agree / total, "disagreements": disagreements}
    owned = sum(1 for a in answers if a["water"].has_owner)
    result["sample_with_owner"] = owned
    return result
