"""Map data over REST: bbox filtering and simplification in PostGIS, errors naming the field."""

import math

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon
from django.urls import reverse

from api.serializers import BBOX_FORMAT, BBOX_ORDER, BBOX_RANGE, SIMPLIFY_WITH_ZOOM
from geo import selectors
from geo.models import Feature, Jurisdiction, Layer

pytestmark = pytest.mark.django_db

# Two small squares near Hangzhou, one degree apart, and a bbox holding only the first.
WEST_BBOX = "119.9,29.9,120.2,30.2"


def square(lon, lat, size=0.1):
    """Return a square multipolygon with its south-west corner at lon, lat."""
    return MultiPolygon(Polygon.from_bbox((lon, lat, lon + size, lat + size)), srid=4326)


def wavy_disc(lon, lat, radius=0.05, vertices=720):
    """Return a disc whose edge wobbles by about 5 m, drawn with many vertices."""
    ring = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius + 0.00005 * math.sin(40 * angle)
        ring.append((lon + r * math.cos(angle), lat + r * math.sin(angle)))
    ring.append(ring[0])
    return MultiPolygon(Polygon(ring), srid=4326)


def vertex_count(geometry):
    """Return how many positions a GeoJSON (multi)polygon holds."""
    return sum(len(ring) for polygon in geometry["coordinates"] for ring in polygon)


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("dispatcher"))
    return client


@pytest.fixture
def city():
    parent = Jurisdiction.objects.create(
        code="330100", name="杭州市", level="city", geom=square(119.5, 29.5, 2)
    )
    west = Jurisdiction.objects.create(
        code="330102", name="上城区", level="county", parent=parent, geom=square(120.0, 30.0)
    )
    east = Jurisdiction.objects.create(code="330199", name="East", geom=square(121.0, 30.0))
    return parent, west, east


@pytest.fixture
def hospitals():
    layer = Layer.objects.create(name="hospitals", title="Hospitals")
    Feature.objects.create(
        layer=layer, key="h1", name="West", geom=Point(120.05, 30.05), properties={"beds": 300}
    )
    Feature.objects.create(layer=layer, key="h2", name="East", geom=Point(121.05, 30.05))
    # Both ends outside the bbox, but the line crosses it.
    Feature.objects.create(layer=layer, key="road", geom=LineString((119.0, 30.1), (122.0, 30.1)))
    Layer.objects.create(name="shelters")
    return layer


def get_json(client, name, status=200, **params):
    response = client.get(reverse(name), params)
    assert response.status_code == status, response.content
    return response.json()


def only_geometry(client, **params):
    """Return the geometry of the test's one jurisdiction, "disc" (a module before may have left the sample city)."""
    features = get_json(client, "api:jurisdictions", **params)["features"]
    (feature,) = [f for f in features if f["properties"]["code"] == "disc"]
    return feature["geometry"]


def codes(collection):
    return {feature["properties"]["code"] for feature in collection["features"]}


def test_jurisdictions_are_a_feature_collection_with_map_properties(user_client, city):
    body = get_json(user_client, "api:jurisdictions")
    assert body["type"] == "FeatureCollection"
    west = next(f for f in body["features"] if f["id"] == "330102")
    assert west["properties"] == {
        "code": "330102", "name": "上城区", "level": "county", "parent": "330100"
    }
    assert west["geometry"]["type"] == "MultiPolygon"
    lon, lat = west["geometry"]["coordinates"][0][0][0]
    assert 120 <= lon <= 120.1 and 30 <= lat <= 30.1  # lon/lat order, RFC 7946


def test_jurisdictions_bbox_keeps_overlapping_and_drops_the_rest(user_client, city):
    body = get_json(user_client, "api:jurisdictions", bbox=WEST_BBOX)
    assert codes(body) == {"330100", "330102"}


def test_jurisdictions_bbox_touching_nothing_returns_empty_collection(user_client, city):
    body = get_json(user_client, "api:jurisdictions", bbox="10,10,11,11")
    assert body == {"type": "FeatureCollection", "features": []}


def test_simplify_in_meters_reduces_vertices(user_client):
    Jurisdiction.objects.create(code="disc", name="Disc", geom=wavy_disc(120.05, 30.05))
    full = only_geometry(user_client)
    coarse = only_geometry(user_client, simplify=100, bbox=WEST_BBOX)
    fine = only_geometry(user_client, simplify=1)
    assert vertex_count(full) == 721
    assert vertex_count(coarse) < vertex_count(full) / 4
    assert vertex_count(coarse) < vertex_count(fine) < vertex_count(full)
    assert coarse["type"] == fine["type"] == "MultiPolygon"


def test_zoom_reduces_vertices_more_when_zoomed_out(user_client):
    Jurisdiction.objects.create(code="disc", name="Disc", geom=wavy_disc(120.05, 30.05))
    near = only_geometry(user_client, zoom=18)
    far = only_geometry(user_client, zoom=8)
    assert vertex_count(far) < vertex_count(near) <= 721


def test_tolerance_in_meters_is_converted_at_the_bbox_latitude():
    at_equator = selectors.simplify_tolerance_deg(bbox=None, simplify_m=1000, zoom=None)
    at_sixty = selectors.simplify_tolerance_deg(bbox=(10, 59, 11, 61), simplify_m=1000, zoom=None)
    assert at_equator == pytest.approx(1000 / 111_320)
    assert at_sixty == pytest.approx(2 * at_equator)


def test_tolerance_for_zoom_is_one_pixel_of_longitude():
    assert selectors.simplify_tolerance_deg(bbox=None, simplify_m=None, zoom=0) == 360 / 256
    assert selectors.simplify_tolerance_deg(bbox=None, simplify_m=None, zoom=10) == 360 / 256 / 1024


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ("120,30,121", BBOX_FORMAT),
        ("120,30,121,31,5", BBOX_FORMAT),
        ("a,b,c,d", BBOX_FORMAT),
        ("", BBOX_FORMAT),
        ("nan,30,121,31", BBOX_FORMAT),
        ("-181,30,121,31", BBOX_RANGE),
        ("120,30,121,91", BBOX_RANGE),
        ("121,30,120,31", BBOX_ORDER),
        ("120,31,121,30", BBOX_ORDER),
    ],
)
@pytest.mark.parametrize("url_name", ["api:jurisdictions", "api:layer-features"])
def test_bad_bbox_is_refused_naming_the_field(user_client, hospitals, url_name, bbox, message):
    kwargs = {"name": "hospitals"} if url_name == "api:layer-features" else {}
    response = user_client.get(reverse(url_name, kwargs=kwargs), {"bbox": bbox})
    assert response.status_code == 400
    assert response.json() == {"errors": {"bbox": [message]}}


def test_bad_simplify_is_refused_naming_the_field(user_client):
    body = get_json(user_client, "api:jurisdictions", status=400, simplify="-5")
    assert list(body["errors"]) == ["simplify"]


def test_simplify_with_zoom_is_refused(user_client):
    body = get_json(user_client, "api:jurisdictions", status=400, simplify=10, zoom=12)
    assert body == {"errors": {"zoom": [SIMPLIFY_WITH_ZOOM]}}


def test_layers_list_counts_features(user_client, hospitals):
    body = get_json(user_client, "api:layers")
    ours = [layer for layer in body["layers"] if layer["name"] in {"hospitals", "shelters"}]  # not the sample city's
    assert {"layers": ours} == {
        "layers": [
            {"name": "hospitals", "title": "Hospitals", "attribution": "", "feature_count": 3},
            {"name": "shelters", "title": "", "attribution": "", "feature_count": 0},
        ]
    }


def test_layer_features_bbox_keeps_overlapping_and_drops_the_rest(user_client, hospitals):
    url = reverse("api:layer-features", kwargs={"name": "hospitals"})
    body = user_client.get(url, {"bbox": WEST_BBOX}).json()
    by_key = {f["id"]: f for f in body["features"]}
    assert set(by_key) == {"h1", "road"}
    assert by_key["h1"]["properties"] == {"key": "h1", "name": "West", "properties": {"beds": 300}}
    assert by_key["h1"]["geometry"] == {"type": "Point", "coordinates": [120.05, 30.05]}


def test_layer_features_without_bbox_returns_every_feature(user_client, hospitals):
    body = user_client.get(reverse("api:layer-features", kwargs={"name": "hospitals"})).json()
    assert len(body["features"]) == 3


def test_unknown_layer_is_404_naming_it(user_client, hospitals):
    url = reverse("api:layer-features", kwargs={"name": "reservoirs"})
    response = user_client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.json() == {"errors": {"layer": ["no layer named reservoirs"]}}
    assert user_client.get(url).json() == {"errors": {"layer": ["没有名为 reservoirs 的图层"]}}  # zh-hans by default


@pytest.mark.parametrize(
    ("url_name", "kwargs"),
    [("api:jurisdictions", {}), ("api:layers", {}), ("api:layer-features", {"name": "hospitals"})],
)
def test_anonymous_caller_is_refused(client, city, hospitals, url_name, kwargs):
    response = client.get(reverse(url_name, kwargs=kwargs))
    assert response.status_code in (401, 403)
    assert "features" not in response.json() and "layers" not in response.json()
