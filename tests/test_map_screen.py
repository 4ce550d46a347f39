"""The map of issue #14 in real Chromium: our vector base map under Leaflet, the layer switcher,
GCJ-02 sources, the attribution, place search and reverse lookup on the console, the terminal's map.

Real data: the Liechtenstein extract (ODbL, © OpenStreetMap contributors), imported once a session
(tests/conftest.py `liechtenstein`); configured tile services are a tiny PNG server on 127.0.0.1.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
import pytest
from playwright.sync_api import expect

from geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from tests.screens import FENGQING, login_as, orm, screenshots_to

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

VADUZ = (9.5209, 47.1410)
TILE = re.compile(r"/api/v1/tiles/basemap/(\d+)/(\d+)/(\d+)\.mvt$")
OSM = "© OpenStreetMap contributors"
# A 1×1 grey PNG: what the tile server answers for every tile.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8ffff3f0005fe02fe"
    "a7d6a4f70000000049454e44ae426082"
)


class TileServer:
    """A tile service on 127.0.0.1 serving one PNG for every z/x/y, recording the paths asked for."""

    def __init__(self):
        asked = self.asked = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tile_server():
    server = TileServer()
    yield server
    server.close()


def console(browser, servers, cast):
    port = servers.start()
    screen = login_as(browser, f"http://127.0.0.1:{port}", cast.dispatcher, "/console/")
    refused = screen.csp_refusals = []
    screen.page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    seen = screen.context_requests = []  # MapLibre's workers' fetches reach the context's events only
    screen.context.on("request", lambda request: seen.append(request.url))
    return screen


def foreign(screen):
    origin = screen.base.split("//")[1]
    return screen.foreign_requests() + [u for u in screen.context_requests if not u.startswith("data:") and origin not in u.split("/")[2]]


def view(page, lon, lat, zoom):
    page.evaluate("([lon, lat, zoom]) => gdMap.setView([lat, lon], zoom, { animate: false })", [lon, lat, zoom])


def tile_answers(page):
    """Record the status of every base map tile the page fetches: [(z, x, y, status)]."""
    answers = []

    def seen(response):
        match = TILE.search(response.url)
        if match:
            answers.append((*map(int, match.groups()), response.status))

    page.context.on("response", seen)  # MapLibre's workers fetch the tiles: the context sees them, the page does not
    return answers


def tile_holds(z, x, y, lon, lat):
    n = 2**z
    tx = int((lon + 180) / 360 * n)
    ty = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
    return (x, y) == (tx, ty)


# ---- the base map --------------------------------------------------------------------------------


def test_maplibre_draws_the_vaduz_tile_under_leaflet_with_the_osm_attribution(liechtenstein, servers, browser, cast):
    screen = console(browser, servers, cast)
    page = screen.page
    answers = tile_answers(page)
    view(page, *VADUZ, 15)
    page.wait_for_function("""() => { const gl = gdMap.gdVector.getMaplibreMap();
        return gl.loaded() && gl.queryRenderedFeatures({ layers: ['basemap-roads'] }).length > 0; }""")
    # The place label is drawn too: glyphs from the browser's own fonts, no glyph server.
    page.wait_for_function("""() => gdMap.gdVector.getMaplibreMap().queryRenderedFeatures({ layers: ['basemap-place-labels'] })
        .some((f) => f.properties.name === 'Vaduz')""")
    assert any(z >= 12 and tile_holds(z, x, y, *VADUZ) and status == 200 for z, x, y, status in answers), answers
    expect(page.locator(".leaflet-control-attribution")).to_contain_text(OSM)
    assert page.evaluate("() => gdMap instanceof L.Map")
    expect(page.locator(".leaflet-control-scale-line")).to_be_visible()
    page.click(".gd-fullscreen a")
    page.wait_for_function("() => document.fullscreenElement === gdMap.getContainer()")
    assert screen.errors == [] and foreign(screen) == [] and screen.csp_refusals == []


def test_gcj02_js_converts_as_the_python_converter_does(liechtenstein, servers, browser, cast):
    page = console(browser, servers, cast).page
    points = [(100.0886, 23.8834), (99.95, 24.6), (116.391, 39.907), (121.4737, 31.2304), (9.5209, 47.141)]
    got = page.evaluate(
        """async (points) => { const m = await import('/static/frontend/js/gcj02.js');
           return points.map(([lon, lat]) => [m.wgs84ToGcj02(lon, lat), m.gcj02ToWgs84(lon, lat)]); }""",
        points,
    )
    lons, lats = np.array(points).T
    forward, backward = np.column_stack(wgs84_to_gcj02(lons, lats)), np.column_stack(gcj02_to_wgs84(lons, lats))
    assert np.abs(np.array([g[0] for g in got]) - forward).max() < 1e-12
    assert np.abs(np.array([g[1] for g in got]) - backward).max() < 1e-9
    assert np.hypot(*(forward - np.array(points))[:4].T).min() > 1e-3  # inside China the shift is real


# ---- place search on the console -----------------------------------------------------------------


def test_a_place_found_centers_the_map_and_is_dispatched_there_with_its_address(
    liechtenstein, servers, browser, cast, tmp_path
):
    from dispatch.models import Incident

    screen = console(browser, servers, cast)
    page = screen.page
    view(page, *VADUZ, 12)
    page.fill("#place-search", "Vaduz")
    first = page.locator("#place-results li button").first
    expect(first).to_contain_text("Vaduz")
    first.click()
    page.wait_for_selector("#report:not([hidden])")
    expect(page.locator("#report [name=address]")).to_have_value(re.compile("Vaduz"))
    lon, lat = page.evaluate("() => [gdMap.getCenter().lng, gdMap.getCenter().lat]")
    assert abs(lon - VADUZ[0]) < 0.02 and abs(lat - VADUZ[1]) < 0.02
    expect(page.locator("#report-place [data-part=road]")).to_be_visible()  # the reverse lookup, in the preview
    page.wait_for_timeout(700)  # the tiles drawn, for the README's picture
    page.screenshot(path=str(screenshots_to(tmp_path) / "console-basemap.png"))
    address = page.input_value("#report [name=address]")
    page.fill("#report [name=title]", "Brand Vaduz")
    page.click("#report-submit")
    page.wait_for_selector("#report[hidden]", state="attached")
    incident = orm(lambda: Incident.objects.get(title="Brand Vaduz"))
    assert incident.address == address
    assert abs(incident.location.x - lon) < 0.01 and abs(incident.location.y - lat) < 0.01
    assert screen.errors == [] and foreign(screen) == []


def test_coordinates_read_two_ways_are_both_offered_and_bad_ones_are_refused_as_text(liechtenstein, servers, browser, cast):
    page = console(browser, servers, cast).page
    page.fill("#place-search", "47.14, 9.52")
    expect(page.locator("#place-question")).to_be_visible()
    expect(page.locator("#place-results li")).to_have_count(2)
    page.fill("#place-search", "200, 95")
    expect(page.locator("#place-error")).to_contain_text("out of range")


# ---- configured tile services ----------------------------------------------------------------------


def switch_base(page, name):
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-base label", has_text=name).click()


def marker_center(page):
    return page.evaluate("""() => { const r = document.querySelector('path.incident-marker').getBoundingClientRect();
        const m = gdMap.getContainer().getBoundingClientRect();
        return [r.left + r.width / 2 - m.left, r.top + r.height / 2 - m.top]; }""")


def drawn_at(page, lon, lat):
    """Where plain Web Mercator puts lon, lat on the map as it stands (the pixel grid of the tiles)."""
    return page.evaluate("""([lon, lat]) => { const p = L.CRS.EPSG3857.latLngToPoint(L.latLng(lat, lon), gdMap.getZoom())
        .subtract(gdMap.getPixelOrigin()); const c = gdMap.layerPointToContainerPoint(p); return [c.x, c.y]; }""", [lon, lat])


def test_the_layer_switcher_draws_a_configured_service_and_shifts_our_data_onto_a_gcj02_one(
        servers, browser, cast, tile_server):
    from tests.screens import click_map_at, dispatcher_token, report

    base = f"http://127.0.0.1:{tile_server.port}"
    servers.env["MAP_SOURCES"] = json.dumps([
        {"name": "Intranet tiles", "type": "xyz", "url": base + "/wgs/{z}/{x}/{y}.png", "attribution": "Intranet <b>maps</b>"},
        {"name": "Shifted tiles", "type": "xyz", "url": base + "/gcj/{z}/{x}/{y}.png", "datum": "gcj02", "attribution": "GCJ"},
    ])
    port = servers.start()
    report(port, dispatcher_token(cast), "Flood for the shift")
    screen = login_as(browser, f"http://127.0.0.1:{port}", cast.dispatcher, "/console/")
    page = screen.page
    page.wait_for_selector("path.incident-marker")
    view(page, *FENGQING, 14)
    switch_base(page, "Intranet tiles")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-tile-loaded').length > 0")
    assert any(path.startswith("/wgs/14/") for path in tile_server.asked)
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("Intranet <b>maps</b>")  # as text
    unshifted = marker_center(page)
    assert max(abs(a - b) for a, b in zip(unshifted, drawn_at(page, *FENGQING))) < 1.5

    switch_base(page, "Shifted tiles")
    page.wait_for_function("() => gdMap.gdShifted === true")
    gcj = [float(v) for v in wgs84_to_gcj02(*FENGQING)]
    shifted = marker_center(page)
    assert max(abs(a - b) for a, b in zip(shifted, drawn_at(page, *gcj))) < 1.5
    assert max(abs(a - b) for a, b in zip(shifted, drawn_at(page, *FENGQING))) > 20  # a few hundred meters at z14

    spot = (FENGQING[0] + 0.003, FENGQING[1] + 0.002)  # beside the marker; the click comes back as WGS 84
    click_map_at(page, *spot)
    page.wait_for_selector("#report:not([hidden])")
    lon, lat = (float(v) for v in page.inner_text("#report-where").split(","))
    assert abs(lon - spot[0]) < 2e-4 and abs(lat - spot[1]) < 2e-4
    assert screen.errors == []
    assert [u for u in screen.requests if not u.startswith("data:") and urlsplit(u).hostname != "127.0.0.1"] == []


# ---- the terminal's detail map ------------------------------------------------------------------


def test_the_terminal_shows_the_incident_on_the_base_map_with_the_nearby_facilities(servers, browser, cast):
    from tests.screens import dispatcher_token, report, ticket_on

    port = servers.start()
    terminal = login_as(browser, f"http://127.0.0.1:{port}", cast.water_op, "/terminal/")
    page = terminal.page
    page.click("#arm")
    ticket = report(port, dispatcher_token(cast), "Flood on the terminal map")["tickets"][0]["id"]
    ticket_on(page, ticket, "delivered")
    page.click(f'#tickets [data-ticket-id="{ticket}"] .head')
    page.wait_for_selector("#detail-map[data-fitted]")
    page.wait_for_selector("#detail-map path.nearby-marker")
    assert page.evaluate("() => gdDetailMap.getBounds().contains([%f, %f])" % (FENGQING[1], FENGQING[0]))
    expect(page.locator("#detail-map .leaflet-control-scale")).to_be_visible()
    page.fill("#place-search", "凤庆")
    page.locator("#place-results li button").first.click()
    center = page.evaluate("() => gdDetailMap.getCenter()")
    assert abs(center["lng"] - 99.93) < 0.5 and abs(center["lat"] - 24.6) < 0.5
    assert terminal.errors == [] and terminal.foreign_requests() == []


def test_a_click_on_the_map_fills_an_empty_address_from_the_reverse_lookup(liechtenstein, servers, browser, cast):
    page = console(browser, servers, cast).page
    view(page, *VADUZ, 16)
    page.evaluate("([lon, lat]) => gdMap.fire('click', { latlng: L.latLng(lat, lon) })", list(VADUZ))
    road = page.locator("#report-place [data-part=road]")
    expect(road).to_be_visible()
    road_name = road.inner_text().split(":", 1)[1].rsplit("(", 1)[0].strip()
    expect(page.locator("#report [name=address]")).to_have_value(re.compile(re.escape(road_name)))
    page.fill("#report [name=address]", "typed by the dispatcher")
    page.evaluate("([lon, lat]) => gdMap.fire('click', { latlng: L.latLng(lat, lon) })", [VADUZ[0] + 0.001, VADUZ[1]])
    expect(page.locator("#report-where")).to_contain_text(f"{VADUZ[0] + 0.001:.4f}")
    page.wait_for_timeout(500)
    expect(page.locator("#report [name=address]")).to_have_value("typed by the dispatcher")  # never overwritten
