"""Frame time of the console's map while panning over Liechtenstein with a 20,000-feature layer (#14).

Not part of `./geodispatch test` (pytest collects tests/ only) nor of `./geodispatch bench`: it
needs Chromium and the browser tests' live servers, so it runs through pytest on demand:

    ./geodispatch test bench/map_frames.py -q -s

It imports the Liechtenstein base map (once), adds a layer of 20,000 points spread over the
country (SYNTHETIC, removed afterwards), opens the console at Vaduz (Leaflet zoom 13) and pans it
by 8 px every frame for 6 s, then again with the MapLibre layer removed (Leaflet only, for scale), recording the intervals between requestAnimationFrame callbacks
(MapLibre redraws the vector base map and our layer under Leaflet on every move). Chromium here
draws WebGL in software (SwiftShader) on 2 shared cores: a floor, not what a dispatcher's GPU gives.
Prints p50/p95/p99/max in ms and the share of frames over 50 ms; bench/README.md keeps the run.
"""

import json
import random

import pytest
from django.contrib.gis.geos import Point

from tests.conftest import browser, cast, liechtenstein, sample_city, servers  # noqa: F401 (fixtures)
from tests.screens import login_as, orm

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

FEATURES = 20_000
BOUNDS = (9.47, 47.05, 9.64, 47.27)  # Liechtenstein, roughly
VADUZ = (9.5209, 47.1410)
PAN_MS = 6000

MEASURE = """async ([lon, lat, ms]) => {
  gdMap.setView([lat, lon], 13, { animate: false });
  await new Promise((done) => setTimeout(done, 3000)); // tiles of the first view
  const gaps = []; let last = performance.now(); const end = last + ms; let step = 0;
  await new Promise((done) => {
    const frame = (now) => {
      gaps.push(now - last); last = now;
      const dir = Math.floor(step++ / 60) % 4; // a square: right, down, left, up
      gdMap.panBy([[8, 0], [0, 8], [-8, 0], [0, -8]][dir], { animate: false });
      if (now < end) requestAnimationFrame(frame); else done();
    };
    requestAnimationFrame(frame);
  });
  return gaps;
}"""


def synthetic_layer():
    from geo.models import Feature, Layer
    from geo.tiles import tileset_bump

    rng = random.Random(14)
    layer, _ = Layer.objects.get_or_create(name="bench_frames", defaults={"title": "SYNTHETIC bench layer"})
    Feature.objects.filter(layer=layer).delete()
    Feature.objects.bulk_create(
        Feature(layer=layer, key=str(i), name=f"P{i}", geom=Point(rng.uniform(BOUNDS[0], BOUNDS[2]), rng.uniform(BOUNDS[1], BOUNDS[3])))
        for i in range(FEATURES)
    )
    tileset_bump(tileset="ours")
    return layer


def percentile(values, p):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def figures(gaps):
    return {
        "frames": len(gaps), "p50_ms": percentile(gaps, 50), "p95_ms": percentile(gaps, 95),
        "p99_ms": percentile(gaps, 99), "max_ms": round(max(gaps), 1),
        "over_50ms_share": round(sum(g > 50 for g in gaps) / len(gaps), 3), "features": FEATURES,
    }


def test_pan_frame_times_over_liechtenstein_with_20000_features(liechtenstein, servers, browser, cast):  # noqa: F811
    layer = orm(synthetic_layer)
    try:
        port = servers.start()
        page = login_as(browser, f"http://127.0.0.1:{port}", cast.dispatcher, "/console/").page
        with_gl = page.evaluate(MEASURE, [*VADUZ, PAN_MS])[1:]
        page.evaluate("() => gdMap.removeLayer(gdMap.gdVector)")  # the same pan with Leaflet's layers only
        leaflet_only = page.evaluate(MEASURE, [*VADUZ, PAN_MS])[1:]
        for name, gaps in (("maplibre_under_leaflet", with_gl), ("leaflet_only", leaflet_only)):
            print("map_frames", name, json.dumps(figures(gaps)))
        assert with_gl and leaflet_only
    finally:
        orm(lambda: layer.delete())
