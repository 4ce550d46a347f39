"""The map (issue #14): vector tiles cold and cached, and the place search over 100k names.

Runs inside the bench process (Django set up on the bench database, in process: the figures
are the selectors' own time, one database round trip per statement, without HTTP):

- tiles of the base map over Liechtenstein (the 2013 extract, imported here) and of our own
  layer over the 2,878 China counties, at zooms 8, 12 and 16. Cold: the tile set's version is
  bumped first, so each request makes the tile (ST_AsMVT) and stores it; cached: the same
  tiles asked again. Basemap tiles: every tile over Liechtenstein's bounds at the zoom (a
  random sample of `sample` when more); county tiles: the tiles holding `sample` random
  county label points.
- the place search over 100k names: the real ones (Liechtenstein's base map, the counties,
  their 17,268 sub-centers) plus SYNTHETIC names made from the real ones with suffixes
  (凤庆县 + 第3村 / 中学 …, Vaduz + Weg 3 …) up to `names`, stored with source "synthetic" and
  removed afterwards. Queries: prefixes of real names as typed (characters, pinyin, initials,
  lower-case Latin), half of them with a `near` point, one in ten with two letters swapped (a typo).
"""

import math
import random
import time
from pathlib import Path

from bench.common import ROOT, say, summary_ms
from bench.report import write_section

LIECHTENSTEIN = ROOT.parent / "shared" / "data" / "osm" / "liechtenstein-2013-08-03.osm.pbf"
ZOOMS = (8, 12, 16)
CHINESE_SUFFIXES = ["村", "路", "中学", "小学", "卫生院", "水库", "大桥", "社区", "街", "派出所"]
LATIN_SUFFIXES = ["Weg", "Hof", "Brücke", "Schule", "Platz", "Gasse", "Bach", "Halde"]
TYPOS = 0.1  # share of queries typed with two letters swapped


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(x, n - 1), min(y, n - 1)


def tiles_over(bounds, z, sample, rng):
    (x0, y1), (x1, y0) = tile_of(bounds[0], bounds[1], z), tile_of(bounds[2], bounds[3], z)
    tiles = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return rng.sample(tiles, sample) if len(tiles) > sample else tiles


def county_tiles(z, sample, rng):
    from geo.models import PlaceName

    points = list(PlaceName.objects.filter(source="jurisdictions").values_list("location", flat=True))
    return sorted({(z, *tile_of(p.x, p.y, z)) for p in rng.sample(points, min(sample, len(points)))})


def time_tiles(tileset, tiles):
    from geo.tiles import tile_get, tileset_bump

    tileset_bump(tileset=tileset)
    cold, cached, sizes = [], [], []
    for z, x, y in tiles:
        t0 = time.perf_counter()
        tile = tile_get(tileset=tileset, z=z, x=x, y=y)
        cold.append(time.perf_counter() - t0)
        sizes.append(len(tile))
    for z, x, y in tiles:
        t0 = time.perf_counter()
        tile_get(tileset=tileset, z=z, x=x, y=y)
        cached.append(time.perf_counter() - t0)
    return cold, cached, {"cold": summary_ms(cold), "cached": summary_ms(cached), "tiles": len(tiles),
                          "empty": sizes.count(0), "bytes_max": max(sizes, default=0)}


def bench_tiles(sample, rng):
    from geo.basemap import basemap_import

    t0 = time.perf_counter()
    report = basemap_import(path=Path(LIECHTENSTEIN))
    result = {"import_s": round(time.perf_counter() - t0, 2), "counts": report.counts}
    all_cold, all_cached = [], []
    for tileset, where in (("basemap", lambda z: tiles_over(report.bounds, z, sample, rng)),
                           ("ours", lambda z: county_tiles(z, sample, rng))):
        for z in ZOOMS:
            say(f"map: {tileset} tiles at zoom {z}")
            cold, cached, figures = time_tiles(tileset, where(z))
            result[f"{tileset}_z{z}"] = figures
            all_cold += cold
            all_cached += cached
    result["all"] = {"cold": summary_ms(all_cold), "cached": summary_ms(all_cached)}
    return result


def synthetic_names(real, count, rng):
    """Return `count` SYNTHETIC names: real names with a suffix and a number (labelled "synthetic")."""
    names = []
    for i in range(count):
        name, lon, lat = real[i % len(real)]
        chinese = any("\u4e00" <= c <= "\u9fff" for c in name)
        suffix = rng.choice(CHINESE_SUFFIXES if chinese else LATIN_SUFFIXES)
        number = i // len(real) + 1
        label = f"{name}第{number}{suffix}" if chinese else f"{name} {suffix} {number}"
        jitter = lambda: rng.uniform(-0.05, 0.05)  # noqa: E731
        names.append((label, "poi", "synthetic", "synthetic", str(i), lon + jitter(), lat + jitter()))
    return names


def queries(real, n, rng):
    """Return n queries as typed into the search box: prefixes in characters, pinyin, initials, Latin."""
    from geo.gazetteer import search_keys

    typed = []
    for name, lon, lat in rng.sample(real, min(n, len(real))):
        keys = search_keys(name).split()
        form = rng.choice(keys)
        cut = max(2, min(len(form), rng.randint(2, 7)))
        near = (lon + rng.uniform(-0.2, 0.2), lat + rng.uniform(-0.2, 0.2)) if rng.random() < 0.5 else None
        query, typo = form[:cut], False
        if rng.random() < TYPOS and len(query) >= 4:  # two letters swapped: no word begins so, the fuzzy path answers
            i = rng.randrange(1, len(query) - 1)
            query, typo = query[:i] + query[i + 1] + query[i] + query[i + 2:], True
        typed.append((query, near, typo))
    return typed


def bench_search(names, n_queries, rng):
    from django.db import connection

    from geo import gazetteer
    from geo.models import PlaceName

    if not PlaceName.objects.filter(source="jurisdictions").exists():
        gazetteer.placenames_refresh_jurisdictions()
    real = [(n, p.x, p.y) for n, p in PlaceName.objects.exclude(source="synthetic").values_list("name", "location")]
    t0 = time.perf_counter()
    gazetteer.placenames_add(names=synthetic_names(real, max(0, names - len(real)), rng))
    add_s = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE geo_placename, geo_placeprefix")  # as after autovacuum: index-only scans
    total = PlaceName.objects.count()
    say(f"map: place search over {total} names ({total - len(real)} synthetic)")
    typed = queries(real, n_queries, rng)
    for query, near, _ in typed[:50]:  # warm
        gazetteer.places_search(query=query, near=near, limit=10)
    times, empty, by_kind = [], 0, {True: [], False: []}
    for query, near, typo in typed:
        t0 = time.perf_counter()
        found = gazetteer.places_search(query=query, near=near, limit=10)
        times.append(time.perf_counter() - t0)
        by_kind[typo].append(times[-1])
        empty += not found
    PlaceName.objects.filter(source="synthetic").delete()
    return {"names": total, "real": len(real), "synthetic": total - len(real), "synthetic_add_s": round(add_s, 1),
            "queries": len(typed), "no_result": empty, **summary_ms(times),
            "as_typed": summary_ms(by_kind[False]), "typos": summary_ms(by_kind[True]),
            "examples": [q for q, _, _ in typed[:12]]}


def run(*, sample=100, names=100_000, n_queries=1000, seed=14):
    rng = random.Random(seed)
    result = {"tiles": bench_tiles(sample, rng)}
    result["search"] = bench_search(names, n_queries, rng)
    return result


def summary(result):
    tiles = result["tiles"]["all"]
    return {
        "map.tile_p99_ms_cold": tiles["cold"]["p99_ms"],
        "map.tile_p99_ms_cached": tiles["cached"]["p99_ms"],
        "map.search_p99_ms": result["search"]["p99_ms"],
    }


def table(result):
    rows = ["| tiles | zoom | n | empty | cold p50 | cold p99 | cached p50 | cached p99 | largest (bytes) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for tileset in ("basemap", "ours"):
        for z in ZOOMS:
            f = result["tiles"][f"{tileset}_z{z}"]
            rows.append(f"| {tileset} | {z} | {f['tiles']} | {f['empty']} | {f['cold']['p50_ms']} | "
                        f"{f['cold']['p99_ms']} | {f['cached']['p50_ms']} | {f['cached']['p99_ms']} | {f['bytes_max']} |")
    s = result["search"]
    rows.append("")
    rows.append(f"Place search over {s['names']:,} names ({s['real']:,} real, {s['synthetic']:,} synthetic), "
                f"{s['queries']} queries: p50 {s['p50_ms']} ms, p90 {s['p90_ms']}, p99 {s['p99_ms']}, "
                f"max {s['max_ms']}; {s['no_result']} found nothing. As typed ({s['as_typed']['n']}): p50 "
                f"{s['as_typed']['p50_ms']}, p99 {s['as_typed']['p99_ms']}; with a typo ({s['typos']['n']}): p50 "
                f"{s['typos']['p50_ms']}, p99 {s['typos']['p99_ms']}.")
    return "\n".join(rows)


def update_readme(result, figures):
    lines = [f"Run `{result['name']}` ({result['machine']['at']}):", ""]
    lines += [f"- `{key}`: {value}" for key, value in figures.items()]
    write_section("map", "\n".join(lines) + "\n\n" + table(result["map"]), heading="Map")
