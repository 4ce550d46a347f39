"""The admin works on an isolated network: every asset and map layer comes from the project."""

import posixpath
import re
from html import unescape as html_unescape

import pytest
from django.conf import settings
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.contrib.staticfiles import finders
from django.urls import reverse
from playwright.sync_api import sync_playwright

from geo.models import Feature, Jurisdiction, Layer, SubCenter, SubCenterKind
from geo.widgets import OfflineMapWidget
from tests.browser import launch_chromium
from tests.second_factor import verified_login

pytestmark = pytest.mark.django_db

ASSET_REFERENCE = re.compile(
    r"""<script[^>]*\ssrc="([^"]*)"|<link[^>]*\shref="([^"]*)"|url\(\s*['"]?([^'")]+)""", re.I
)
SOURCE_MAP = re.compile(r"sourceMappingURL=(\S+)")
ANY_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[\w.-]+", re.I)
# SVG namespace names are identifiers, never fetched.
XMLNS = re.compile(r'xmlns(?::\w+)?="[^"]*"')
# Both jurisdictions drawn, and the view moved off (0, 0) to fit them.
BASE_LAYER_LOADED = """() => window.geodjango_geom
    && geodjango_geom.map.getLayers().item(0).getSource().getFeatures().length === 2
    && geodjango_geom.map.getView().getCenter()[0] > 1e7"""


def square(lon, lat, size=0.1):
    """Return a square multipolygon with its south-west corner at lon, lat."""
    return MultiPolygon(Polygon.from_bbox((lon, lat, lon + size, lat + size)), srid=4326)


def asset_references(text):
    """Return every script src, link href and CSS url( in `text`."""
    matches = ASSET_REFERENCE.finditer(text)
    return [next(g for g in match.groups() if g is not None) for match in matches]


def static_path(url):
    """Return the static file path behind a same-origin STATIC_URL address."""
    prefix = "/" + settings.STATIC_URL.lstrip("/")
    assert url.startswith(prefix), f"{url} is not served as a static file"
    return url[len(prefix) :].split("?")[0].split("#")[0]


def assert_same_origin_static(urls):
    """Assert each URL is a path on this host that the staticfiles finders resolve."""
    for url in urls:
        assert not ANY_HOST.match(url), f"{url} names another host"
        found = finders.find(static_path(url))
        assert found, f"{url} does not resolve to a static file"


def assert_css_and_source_maps_resolve(url):
    """Assert a static file's url(...) and sourceMappingURL targets exist beside it."""
    path = static_path(url)
    text = open(finders.find(path), encoding="utf-8", errors="replace").read()
    if path.endswith(".css"):
        targets = [t for t in asset_references(text) if not t.startswith("data:")]
    else:
        targets = SOURCE_MAP.findall(text)
    for target in targets:
        assert not ANY_HOST.match(target), f"{path} refers to {target} on another host"
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        assert finders.find(resolved), f"{path} refers to missing {target}"


@pytest.fixture
def jurisdiction():
    parent = Jurisdiction.objects.create(
        code="330100", name="杭州市", level="city", geom=square(119.5, 29.5, 2)
    )
    return Jurisdiction.objects.create(
        code="330102", name="上城区", parent=parent, geom=square(120.0, 30.0)
    )


@pytest.fixture
def admin_pages(jurisdiction):
    """Return admin page addresses by name: change pages of each geo model, and add pages."""
    subcenter = SubCenter.objects.create(
        code="330102-fire", name="上城区消防中队", kind=SubCenterKind.objects.get(code="fire")
    )
    subcenter.jurisdictions.add(jurisdiction)
    layer = Layer.objects.create(name="hospitals")
    feature = Feature.objects.create(layer=layer, key="h1", geom=Point(120.05, 30.05))
    return {
        "jurisdiction": reverse("admin:geo_jurisdiction_change", args=[jurisdiction.pk]),
        "feature": reverse("admin:geo_feature_change", args=[feature.pk]),
        "jurisdiction_add": reverse("admin:geo_jurisdiction_add"),
        "feature_add": reverse("admin:geo_feature_add"),
        "subcenter": reverse("admin:geo_subcenter_change", args=[subcenter.pk]),
        "layer": reverse("admin:geo_layer_change", args=[layer.pk]),
    }


def test_widget_media_is_served_by_the_project():
    media = OfflineMapWidget().media
    urls = [media.absolute_path(p) for p in media._js] + [
        media.absolute_path(p) for paths in media._css.values() for p in paths
    ]
    assert len(urls) == 4
    assert_same_origin_static(urls)
    for url in urls:
        assert_css_and_source_maps_resolve(url)


@pytest.mark.parametrize(
    ("page", "has_map"),
    [
        ("jurisdiction", True),
        ("feature", True),
        ("jurisdiction_add", True),
        ("feature_add", True),
        ("subcenter", False),
        ("layer", False),
    ],
)
def test_admin_page_renders_with_only_same_origin_assets(admin_client, admin_pages, page, has_map):
    response = admin_client.get(admin_pages[page])
    assert response.status_code == 200
    html = response.content.decode()
    assert ANY_HOST.findall(XMLNS.sub("", html)) == []
    references = asset_references(html)
    assert any(r.endswith("/vendor/ol/dist/ol.js") for r in references) == has_map
    statics = [r for r in references if r.startswith("/" + settings.STATIC_URL.lstrip("/"))]
    assert statics
    assert_same_origin_static(statics)
    for static in statics:
        assert_css_and_source_maps_resolve(static)


def test_map_base_layer_is_our_jurisdictions(admin_client, jurisdiction):
    url = reverse("admin:geo_jurisdiction_change", args=[jurisdiction.pk])
    html = admin_client.get(url).content.decode()
    assert "ol.layer.Tile" not in html
    # The widget's script is a static file (no inline script under the Content-Security-Policy).
    assert re.findall(r'<script(?![^>]*\s(?:src=|type="application/json"))[^>]*>', html) == []
    assert finders.find("geo/js/offline_map_widget.js")
    base_layer_url = html_unescape(re.search(r'data-base-layer-url="([^"]+)"', html).group(1))
    assert base_layer_url.startswith(reverse("api:jurisdictions") + "?")
    response = admin_client.get(base_layer_url)
    assert response.status_code == 200
    assert {f["id"] for f in response.json()["features"]} == {"330100", "330102"}


def test_layer_list_shows_feature_count(admin_client):
    layer = Layer.objects.create(name="shelters")
    for key in ("s1", "s2"):
        Feature.objects.create(layer=layer, key=key, geom=Point(120, 30))
    html = admin_client.get(reverse("admin:geo_layer_changelist")).content.decode()
    assert re.search(r'<td class="field-feature_count">2</td>', html)


def test_saving_a_subcenter_in_the_admin_refreshes_its_coverage_area(admin_client, jurisdiction):
    Jurisdiction.objects.filter(pk=jurisdiction.pk).update(area_m2=1234.5)
    response = admin_client.post(
        reverse("admin:geo_subcenter_add"),
        {
            "code": "330102-water", "name": "上城区水务局", "kind": "water", "priority": 0,
            "active": "on", "jurisdictions": [jurisdiction.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert SubCenter.objects.get(code="330102-water").coverage_area_m2 == 1234.5


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_map_draws_our_jurisdictions_from_our_host_only(live_server, client, admin_user):
    Jurisdiction.objects.create(code="west", name="West", geom=square(120.0, 30.0))
    Jurisdiction.objects.create(code="east", name="East", geom=square(121.0, 30.0))
    verified_login(client, admin_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context().new_page()
        cookie = {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}
        page.context.add_cookies([cookie])
        requested, errors = [], []
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(live_server.url + reverse("admin:geo_jurisdiction_add"))
        page.wait_for_function(BASE_LAYER_LOADED, timeout=10_000)
        lon, lat = page.evaluate("ol.proj.toLonLat(geodjango_geom.map.getView().getCenter())")
        browser.close()
    assert errors == []
    assert [url for url in requested if not url.startswith(live_server.url)] == []
    assert any("/api/v1/jurisdictions" in url for url in requested)
    # The empty field lets the view fit the jurisdictions: centered between the two squares.
    assert lon == pytest.approx(120.55, abs=0.01) and lat == pytest.approx(30.05, abs=0.01)
