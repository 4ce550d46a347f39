"""Bad input is a clear 4xx naming the field or the feature, never a 500, never an HTML page.

Each case here was a 500 or an HTML answer from outside testing (issue 12, item 8).
"""

import json

import pytest
from django.test import Client

from dispatch import services
from dispatch.models import Incident

pytestmark = pytest.mark.django_db

API = "/api/v1"
FENGQING = (99.95, 24.6)


@pytest.fixture
def dispatcher(cast):
    client = Client(raise_request_exception=False)
    client.force_login(cast.dispatcher)
    return client


@pytest.fixture
def incident(cast):
    return services.incident_report(
        actor=cast.dispatcher, category="flood", severity=4, lon=FENGQING[0], lat=FENGQING[1], title="积水"
    ).incident


def errors_of(response, status):
    """Return the error body, after checking the status and that the answer is the API's JSON."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    return response.json()["errors"]


def report_body(location):
    return {"category": "flood", "severity": 4, "location": location, "title": "积水"}


def post_json(client, path, raw):
    return client.post(f"{API}{path}", data=raw, content_type="application/json")


def test_a_location_nested_thousands_deep_is_refused_naming_the_body(dispatcher):
    deep = '{"type": "Point", "coordinates": ' + "[" * 5000 + "]" * 5000 + "}"
    raw = '{"category": "flood", "severity": 4, "title": "x", "location": ' + deep + "}"
    assert "body" in errors_of(post_json(dispatcher, "/incidents", raw), 400)
    assert not Incident.objects.exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_a_body_are_refused(dispatcher, number):
    raw = json.dumps(report_body({"type": "Point", "coordinates": [0, 0]})).replace("[0, 0]", f"[{number}, 24.6]")
    assert errors_of(post_json(dispatcher, "/incidents", raw), 400)
    assert not Incident.objects.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_route_refuses_a_non_finite_coordinate(dispatcher, value):
    response = dispatcher.get(f"{API}/route", {"lon": value, "lat": "24.6", "kinds": "water"})
    assert "lon" in errors_of(response, 400)


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nearby_refuses_a_non_finite_radius(dispatcher, incident, value):
    response = dispatcher.get(f"{API}/incidents/{incident.id}/nearby", {"layer": "hospitals", "radius_m": value})
    assert "radius_m" in errors_of(response, 400)


def test_a_nul_byte_in_a_path_is_refused(dispatcher):
    assert errors_of(dispatcher.get(f"{API}/layers/%00/features"), 400)


@pytest.mark.parametrize("path,param", [("/incidents", "category"), ("/tickets", "subcenter"), ("/route", "category")])
def test_a_nul_byte_in_a_query_is_refused_naming_the_parameter(dispatcher, path, param):
    response = dispatcher.get(f"{API}{path}", {param: "a\x00b", "lon": 99.9, "lat": 24.6, "severity": 4})
    assert param in errors_of(response, 400)


def test_a_nul_byte_in_a_body_string_is_refused_and_nothing_is_written(dispatcher):
    raw = json.dumps({**report_body({"type": "Point", "coordinates": list(FENGQING)}), "title": "a\u0000b"})
    assert "title" in errors_of(post_json(dispatcher, "/incidents", raw), 400)
    assert not Incident.objects.exists()


def test_a_number_where_a_reason_belongs_is_refused(dispatcher, incident):
    assert "reason" in errors_of(post_json(dispatcher, f"/incidents/{incident.id}/close", '{"reason": 0.99}'), 400)


@pytest.mark.parametrize("path", ["/incidents/abc", "/tickets/1x", "/incidents/abc/assign", "/nothing-here"])
def test_an_unknown_api_path_is_a_json_404(dispatcher, path):
    assert errors_of(dispatcher.get(f"{API}{path}"), 404)


def test_a_wrong_method_is_a_json_405(dispatcher):
    assert errors_of(dispatcher.delete(f"{API}/incidents"), 405)


# Found by tests/test_schemathesis.py: the server took what the schema's patterns refuse.


@pytest.mark.parametrize("bbox", ["9_9,24,100,25", "٩٩,24,100,25", "99, 24,100,25.5x"])
def test_a_bbox_float_would_read_but_the_schema_refuses_is_refused(dispatcher, bbox):
    assert "bbox" in errors_of(dispatcher.get(f"{API}/incidents", {"bbox": bbox}), 400)


def test_a_comma_list_with_another_scripts_digit_is_refused(dispatcher):
    assert "severity" in errors_of(dispatcher.get(f"{API}/incidents", {"severity": "٣"}), 400)


def test_a_text_over_its_max_length_is_refused_even_if_trimming_would_shorten_it(dispatcher, incident):
    raw = json.dumps({"reason": "x" + " " * 2000})
    assert "reason" in errors_of(post_json(dispatcher, f"/incidents/{incident.id}/close", raw), 400)
