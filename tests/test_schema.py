"""The OpenAPI schema: it generates and validates, every path in it exists, and it covers every documented call."""

import re
from io import StringIO

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.urls import Resolver404, resolve
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from api import shapes
from dispatch.models import Call, Category, Event, Feedback, Incident, Ticket
from dispatch.representations import call_data, event_data, feedback_data, incident_data, ticket_data
from geo.models import SubCenter

# Every call of the external contract, as docs/PROTOCOL.md lists it (path parameters written {}).
DESIGN_CALLS = [
    ("post", "/api/v1/incidents"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/{}"),
    ("get", "/api/v1/incidents/{}/timeline"),
    ("post", "/api/v1/incidents/{}/assign"),
    ("post", "/api/v1/incidents/{}/close"),
    ("patch", "/api/v1/incidents/{}"),
    ("post", "/api/v1/incidents/{}/severity"),
    ("post", "/api/v1/incidents/{}/calls"),
    ("get", "/api/v1/incidents/{}/calls"),
    ("get", "/api/v1/incidents/duplicates"),
    ("post", "/api/v1/incidents/{}/merge"),
    ("get", "/api/v1/categories"),
    *[("post", f"/api/v1/tickets/{{}}/{action}")
      for action in ("deliver", "accept", "reject", "confirm", "feedback", "close", "reopen", "cancel", "check")],
    ("get", "/api/v1/tickets"),
    ("get", "/api/v1/route"),
    ("get", "/api/v1/jurisdictions"),
    ("get", "/api/v1/layers"),
    ("get", "/api/v1/layers/{}/features"),
    ("get", "/api/v1/incidents/{}/nearby"),
    ("get", "/api/v1/dashboard"),
    ("get", "/api/v1/subcenters"),
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/health/ready"),
]
PARAMETER = re.compile(r"\{[^}]+\}")


@pytest.fixture(scope="module")
def schema():
    """Return the schema as /api/v1/schema serves it (no login needed: it is the public contract)."""
    response = APIClient().get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_is_served_as_yaml_by_default():
    response = APIClient().get("/api/v1/schema")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"] == "GeoDispatch API"


def test_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stderr=StringIO())
    assert "/api/v1/incidents" in yaml.safe_load(target.read_text())["paths"]


def test_every_documented_path_resolves_to_a_view_taking_its_methods(schema):
    for path, operations in schema["paths"].items():
        concrete = PARAMETER.sub("1", path)
        try:
            match = resolve(concrete)
        except Resolver404:
            pytest.fail(f"{path} is documented but {concrete} resolves to nothing")
        view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
        for method in (m for m in operations if m in ("get", "post", "put", "patch", "delete")):
            if view is not None:
                assert hasattr(view, method), f"{method.upper()} {path} is documented, but {view.__name__} lacks it"


def test_every_call_of_design_section_5_is_in_the_schema(schema):
    documented = {(method, PARAMETER.sub("{}", path)) for path, ops in schema["paths"].items() for method in ops}
    missing = [f"{method.upper()} {path}" for method, path in DESIGN_CALLS if (method, path) not in documented]
    assert not missing, f"not in the schema: {missing}"


def test_every_operation_documents_the_error_format(schema):
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/") or "/health" in path or "/layers" in path or "jurisdictions" in path:
            continue  # the health check and geo's map views document their own answers
        for method, operation in operations.items():
            refs = {code: r["content"]["application/json"]["schema"].get("$ref", "") for code, r in
                    operation["responses"].items() if int(code) >= 400}
            assert refs and all(ref.endswith("/ErrorsOut") for ref in refs.values()), f"{method} {path}"


def test_ticket_actions_document_their_bodies(schema):
    components = schema["components"]["schemas"]

    def body(action):
        request = schema["paths"][f"/api/v1/tickets/{{ticket_id}}/{action}"]["post"].get("requestBody")
        if request is None:
            return None
        ref = request["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        return components[ref]

    for action in ("reject", "reopen", "cancel"):
        assert body(action)["required"] == ["reason"]
    assert set(body("feedback")["properties"]) == {"text", "final"}
    assert body("deliver") is None
    report = components["IncidentReportIn"]
    assert set(report["required"]) == {"category", "severity", "location", "title"}


def _samples():
    """Return unsaved instances of what the representations describe (no database needed)."""
    now = timezone.now()
    category = Category(code="flood", name="洪涝", national_class="natural_disaster")
    incident = Incident(id=1, category=category, severity=2, title="t", location=Point(99.9, 24.6), reported_at=now)
    subcenter = SubCenter(id=1, code="530921-water", name="水务局", kind_id="water")
    ticket = Ticket(id=1, incident=incident, subcenter=subcenter, issued_at=now)
    feedback = Feedback(id=1, ticket=ticket, text="x", author=get_user_model()(username="op"), created_at=now)
    event = Event(seq=1, name="ticket.issued", incident=incident, ticket=ticket, created_at=now)
    return incident, ticket, feedback, event


@pytest.mark.parametrize(
    ("documentation", "make"),
    [(shapes.IncidentOut, lambda i, t, f, e: incident_data(i)), (shapes.TicketOut, lambda i, t, f, e: ticket_data(t)),
     (shapes.FeedbackOut, lambda i, t, f, e: feedback_data(f)), (shapes.EventOut, lambda i, t, f, e: event_data(e))],
    ids=["incident", "ticket", "feedback", "event"],
)
def test_documented_shapes_match_the_representations(documentation, make):
    assert set(documentation().fields) == set(make(*_samples()))


def test_documented_call_shape_matches_its_representation():
    incident = _samples()[0]
    call = Call(id=1, incident=incident, received_at=timezone.now(), location=Point(99.9, 24.6))
    assert set(shapes.CallOut().fields) == set(call_data(call))


def test_docs_page_lists_every_operation_from_local_assets_only():
    response = APIClient().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    schema = APIClient().get("/api/v1/schema", {"format": "json"}).json()
    for path in schema["paths"]:
        assert path in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the docs page must not load outside assets"
