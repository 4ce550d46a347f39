"""No script from data, anywhere (issue #12): hostile text stays text, and a strict CSP is live.

Every text a person or an import can put in — incident fields, feedback, reasons, names of
jurisdictions, sub-centers and layer features — is filled with script payloads through the API
and the import command; then every screen, detail panel, map tooltip and chart tooltip is opened
in real Chromium, in Chinese and in English. Nothing may run, nothing may be refused by the
Content-Security-Policy (which would mean something tried), and the payloads must show as text.
"""

import io
import json
import os
from types import SimpleNamespace

import httpx
import pytest
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import sync_playwright

from api.tokens import token_issue
from tests.browser import launch_chromium
from tests.second_factor import verified_login
from tests.screens import FENGQING, Screen, Servers, click_map_at, login_passwords

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = [
    "<img src=x onerror=window.__xss=1>",
    "<script>window.__xss=1</script>",
    "javascript:window.__xss=1",
    '"><svg onload=window.__xss=1>',
]
# reporter_phone holds 32 characters: the same attack, shorter where needed.
SHORT = {PAYLOADS[0]: "<img src=x onerror=__xss=1>"}
ELSEWHERE = [101.05, 24.05]  # east of 临沧市: only the imported hostile jurisdictions cover it
PREVIEW_AT = [101.03, 24.02]  # the same jurisdiction, off the incidents' markers
TIMEOUT_MS = 15_000
EVERYTHING = " ".join(PAYLOADS)

# Record every policy violation the page reports, before any of its own scripts run.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
"""
# Links, sources and form targets that would run script when followed.
SCRIPT_URLS = """() => [...document.querySelectorAll("[href], [src], [action], [formaction], [xlink\\\\:href]")]
  .flatMap((el) => ["href", "src", "action", "formaction", "xlink:href"].map((a) => el.getAttribute(a)))
  .filter((v) => v && /^\\s*(javascript|vbscript|data:text\\/html)/i.test(v))"""
# What the screens' element helper makes of script URLs in link attributes.
LINKS_FROM_DATA = """async () => {
  const { h } = await import("/static/frontend/js/common.js");
  return ["javascript:window.__xss=1", " JavaScript:window.__xss=1", "data:text/html,<script>1</script>", "/console/"]
    .map((url) => h("a", { href: url }).getAttribute("href"));
}"""
HOVER_MAP = """() => document.querySelectorAll(".leaflet-container .leaflet-interactive").forEach((el) => {
  el.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 5, clientY: 5 }));
})"""
SHOW_CHART_TIPS = """() => document.querySelectorAll(".chart").forEach((dom) => {
  const chart = echarts.getInstanceByDom(dom);
  const n = chart.getOption().xAxis[0].data.length;
  for (let i = 0; i < n; i++) chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: i });
})"""


# ---- the header on every response --------------------------------------------------------


def directives(header):
    """Return {directive: [sources]} of a Content-Security-Policy header."""
    parts = (part.split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def assert_strict(response, host="testserver"):
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    policy = directives(header)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


def test_every_page_and_api_response_carries_the_strict_policy(client, cast):
    anonymous = ["/login/", "/api/v1/docs", "/api/v1/schema", "/api/v1/incidents", "/no-such-page/", "/admin/login/"]
    for path in anonymous:
        assert_strict(client.get(path))
    verified_login(client, cast.admin)
    pages = ["/console/", "/dashboard/", "/dashboard/bulletin/", "/admin/", "/admin/geo/jurisdiction/",
             "/admin/geo/jurisdiction/add/", "/api/v1/incidents", "/api/v1/jurisdictions", "/i18n/js/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    client.force_login(cast.water_op)
    assert_strict(client.get("/terminal/"))
    assert_strict(client.post("/api/v1/incidents", {}, content_type="application/json"))  # a 403 too


def test_a_configured_tile_server_may_serve_images_and_nothing_else():
    from config.csp import policy

    tiles = policy(tile_url="https://{s}.tiles.example.org:8443/osm/{z}/{x}/{y}.png")
    assert tiles["img-src"][-1] == "https://*.tiles.example.org:8443"
    assert "https://*.tiles.example.org:8443" not in tiles["script-src"] + tiles["connect-src"]
    assert policy(tile_url="")["img-src"] == ["'self'", "data:", "blob:"]


# ---- hostile text in the browser -------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module.

    Playwright's sync API keeps its event loop in this thread while the browser lives, and Django
    takes that for an async context; this thread's ORM calls never run inside that loop.
    """
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


class Watched(Screen):
    """A Screen that also records dialogs, policy violations and script run by data."""

    def __init__(self, browser, base, locale):
        super().__init__(browser, base, locale)
        self.page.add_init_script(WATCH)
        self.dialogs, self.refused, self.violations = [], [], []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("console", lambda m: "Content Security Policy" in m.text and self.refused.append(m.text))

    def visit(self, path):
        self.page.goto(self.base + path)
        return self.page

    def check(self, where):
        """Assert nothing ran and nothing was refused on the page as it is now."""
        page = self.page
        page.wait_for_timeout(150)  # let handlers of freshly inserted nodes fire, if any
        self.violations += page.evaluate("window.__violations || []")
        assert page.evaluate("window.__xss") is None, f"script from data ran on {where}"
        assert page.evaluate(SCRIPT_URLS) == [], f"a script URL became a link on {where}"
        assert self.dialogs == [] and self.errors == [], where
        assert self.violations == [] and self.refused == [], f"policy violations on {where}"


def api(port, token, path, body=None):
    response = httpx.post(f"http://127.0.0.1:{port}/api/v1/{path}", json=body or {},
                          headers={"Authorization": f"Token {token}"}, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def square(lon, lat, size=0.08):
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def import_hostile_geodata(tmp_path):
    """Import, with the real command, jurisdictions (and their water sub-centers) and county seats named with payloads."""
    jurisdictions = [
        {"type": "Feature", "geometry": square(ELSEWHERE[0] - 0.05, ELSEWHERE[1] - 0.05 + 0.1 * n),
         "properties": {"name": text, "code": f"99000{n}", "name_en": text, "note": text}}
        for n, text in enumerate(PAYLOADS)
    ]
    seats = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [FENGQING[0] + 0.01 * (n + 1), FENGQING[1]]},
         "properties": {"name": text, "code": f"seat-{n}", "href": text, "note": text}}
        for n, text in enumerate(PAYLOADS)
    ]
    for name, features in (("jurisdictions", jurisdictions), ("seats", seats)):
        (tmp_path / f"{name}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    call_command("import_geodata", str(tmp_path / "jurisdictions.geojson"), "--jurisdictions", "--name-field", "name",
                 "--code-field", "code", "--subcenter-kinds", "water", stdout=io.StringIO())
    call_command("import_geodata", str(tmp_path / "seats.geojson"), "--layer", "county_seats", "--name-field", "name",
                 "--code-field", "code", "--title", PAYLOADS[3], stdout=io.StringIO())


def hostile_incident(port, dispatcher, text, where=FENGQING):
    fields = {"category": "flood", "severity": 4, "title": text, "description": text, "address": text,
              "reporter_name": text, "reporter_phone": SHORT.get(text, text)}
    return api(port, dispatcher, "incidents", {**fields, "location": {"type": "Point", "coordinates": where}})


def report_hostile_incidents(port, dispatcher, operator):
    """Report, through the API, one incident per payload in 凤庆县 and one in a hostile jurisdiction; walk the tickets."""
    fengqing = []
    for text in PAYLOADS:
        fengqing.append(hostile_incident(port, dispatcher, text))
        hostile_incident(port, dispatcher, text, ELSEWHERE)
    worked, rejected, cancelled = (answer["tickets"][0]["id"] for answer in fengqing[:3])
    for action in ("deliver", "accept"):
        api(port, operator, f"tickets/{worked}/{action}")
    api(port, dispatcher, f"tickets/{worked}/confirm")
    for text in PAYLOADS:
        api(port, operator, f"tickets/{worked}/feedback", {"text": text})
    api(port, operator, f"tickets/{rejected}/reject", {"reason": EVERYTHING})
    api(port, dispatcher, f"tickets/{cancelled}/cancel", {"reason": EVERYTHING})
    api(port, dispatcher, f"incidents/{fengqing[2]['incident']['id']}/close", {"reason": EVERYTHING})
    return fengqing[0]["incident"]["id"], worked


@pytest.fixture
def hostile(cast, tmp_path):
    """A live server whose data is full of payloads: its base address and the incident with feedback."""
    login_passwords(cast)
    import_hostile_geodata(tmp_path)
    servers = Servers(tmp_path)
    servers.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the servers under test keep Django's guard
    port = servers.start()
    dispatcher, operator = (token_issue(user=u)[1] for u in (cast.dispatcher, cast.water_op))
    connection.close()  # the server must see committed data only
    worked, worked_ticket = report_hostile_incidents(port, dispatcher, operator)
    yield SimpleNamespace(base=f"http://127.0.0.1:{port}", port=port, dispatcher=dispatcher, operator=operator,
                          worked=worked, worked_ticket=worked_ticket)
    servers.stop_all()


def assert_shows_as_text(page, selector, texts=PAYLOADS):
    shown = page.inner_text(selector)
    assert [t for t in texts if t not in shown] == [], f"{selector} does not show the payloads as text"


def walk_console(screen, hostile):
    page = screen.page
    page.wait_for_function("() => document.querySelectorAll('#incidents li[data-incident-id]').length >= 7")
    page.wait_for_load_state("networkidle")  # the county seats too
    page.evaluate(HOVER_MAP)
    screen.check("the console's map tooltips")
    assert_shows_as_text(page, ".leaflet-tooltip-pane")  # incident titles, jurisdiction and seat names
    ids = page.locator("#incidents li[data-incident-id]").evaluate_all("items => items.map((li) => li.dataset.incidentId)")
    for incident_id in [*ids, hostile.worked]:  # the confirmed one, with feedback, last
        page.click(f'#incidents li[data-incident-id="{incident_id}"]')
        page.wait_for_selector(f'#detail[data-incident-id="{incident_id}"] #nearby li')
        page.wait_for_function("() => !document.getElementById('nearby').textContent.includes('…')")
    page.wait_for_selector("#detail .feedback li")
    assert_shows_as_text(page, "#detail .feedback")
    assert_shows_as_text(page, "#incidents")
    assert_shows_as_text(page, "#attention", PAYLOADS[1:2])
    assert_shows_as_text(page, "#health")
    screen.check("the console's incident details")
    click_map_at(page, *PREVIEW_AT)
    page.select_option("select[name=category]", "flood")  # a level IV flood goes to the water sub-center
    page.wait_for_selector('#route-preview li[data-code="990000-water"]')
    assert PAYLOADS[0] in page.inner_text("#route-preview")
    screen.check("the console's route preview")
    blank = "about:blank"
    assert page.evaluate(LINKS_FROM_DATA) == [blank, blank, blank, screen.base + "/console/"]


def walk_terminal(screen, hostile):
    page = screen.page
    page.wait_for_selector("#tickets li[data-ticket-id] .title")
    # Live, while the terminal looks: a new ticket it rejects with a reason, and a progress report.
    ticket = hostile_incident(hostile.port, hostile.dispatcher, PAYLOADS[1])["tickets"][0]["id"]
    page.wait_for_selector(f'#tickets li[data-ticket-id="{ticket}"][data-status="delivered"]')
    api(hostile.port, hostile.operator, f"tickets/{ticket}/reject", {"reason": EVERYTHING})
    api(hostile.port, hostile.operator, f"tickets/{hostile.worked_ticket}/feedback", {"text": EVERYTHING})
    page.wait_for_selector(f'#tickets li[data-ticket-id="{ticket}"][data-status="rejected"] .reason')
    page.wait_for_selector(f'#tickets li[data-ticket-id="{hostile.worked_ticket}"] .feedback li')
    assert_shows_as_text(page, "#tickets", [PAYLOADS[0], PAYLOADS[1], PAYLOADS[3], EVERYTHING])
    for n in range(page.locator("#tickets li[data-ticket-id]").count()):
        page.locator("#tickets li[data-ticket-id] .head").nth(n).click()
        page.wait_for_selector("#detail:not([hidden]) h2")
    page.wait_for_selector("#detail ul li")  # the nearby county seats, named with payloads
    screen.check("the terminal's tickets and details")


def walk_dashboard(screen, hostile):
    page = screen.page
    page.wait_for_selector('#timeliness tr[data-code="990000-water"]')
    assert_shows_as_text(page, "#timeliness", PAYLOADS[:1])
    page.evaluate(HOVER_MAP)
    assert_shows_as_text(page, ".leaflet-tooltip-pane")
    page.evaluate(SHOW_CHART_TIPS)
    screen.check("the dashboard, its map and chart tooltips")
    page = screen.visit("/dashboard/bulletin/")
    assert_shows_as_text(page, "#timeliness", PAYLOADS[:1])
    screen.check("the bulletin")


ADMIN_LISTS = ["jurisdiction", "subcenter", "feature", "layer"]
ADMIN_MAP_LOADED = """() => window.geodjango_geom
    && geodjango_geom.map.getLayers().item(0).getSource().getFeatures().length > 4"""


def walk_admin(screen, hostile):
    for model in ADMIN_LISTS:
        page = screen.visit(f"/admin/geo/{model}/")
        assert_shows_as_text(page, "#result_list", PAYLOADS[3:] if model == "layer" else PAYLOADS)
        screen.check(f"the admin's {model} list")
    for model, query in (("jurisdiction", "990000"), ("feature", "seat-0")):
        page = screen.visit(f"/admin/geo/{model}/?q={query}")
        page.click("#result_list tbody tr a")
        page.wait_for_function(ADMIN_MAP_LOADED, timeout=TIMEOUT_MS)
        screen.check(f"the admin's {model} map")


def test_hostile_text_stays_text_on_every_screen_in_both_languages(browser, hostile, cast):
    for locale in ("zh-CN", "en-US"):
        screens = []
        for user, path, walk in ((cast.dispatcher, "/console/", walk_console), (cast.water_op, "/terminal/", walk_terminal),
                                 (cast.leader, "/dashboard/", walk_dashboard), (cast.admin, "/console/", walk_admin)):
            screen = Watched(browser, hostile.base, locale).login(user.username, "pw-" + user.username, path).online()
            walk(screen, hostile)
            screens.append(screen)
        docs = Watched(browser, hostile.base, locale)
        page = docs.visit("/api/v1/docs")
        assert page.eval_on_selector("span.method", "el => getComputedStyle(el).fontWeight") == "700"  # its CSS applies
        docs.check("the API docs")
        for screen in [*screens, docs]:
            assert screen.foreign_requests() == []
            screen.context.close()


def test_the_policy_blocks_and_reports_an_inline_script(browser, live_server):
    screen = Watched(browser, live_server.url, "en-US")
    page = screen.visit("/login/")
    try:
        page.add_script_tag(content="window.__inline = 1")
    except Exception:  # Playwright may raise when the browser refuses the script
        pass
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("window.__inline") is None
    assert [v.split()[0] for v in page.evaluate("window.__violations")] == ["script-src-elem"]
    assert any("violates the following Content Security Policy directive" in m and "blocked" in m for m in screen.refused)
