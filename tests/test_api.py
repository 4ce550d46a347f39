"""The REST API over HTTP: reporting, the lifecycle, idempotency, bad input, maps and figures."""

import json
import math
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from api.parsers import MAX_BODY_BYTES
from dispatch import selectors, services
from dispatch.models import Event, Feedback, Incident, Ticket
from dispatch.services import ERR_IDEMPOTENCY_REUSED
from geo.models import SubCenter
from tests.conftest import password_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_terminals")]

API = "/api/v1"
FENGQING = (99.95, 24.6)  # inside 凤庆县 (530921)
YUN = (100.13, 24.44)  # inside 云县 (530922)
BEIJING = (116.4, 39.9)  # outside every jurisdiction: triage
LIVE_COUNTIES = ("530921", "530922")  # where the tests' incidents happen
FLOOD_II_KINDS = {"water", "civil_affairs", "health", "civil_air_defense"}


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def client_for(user):
    """Return an API client acting as `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def report_body(**overrides):
    body = {
        "category": "flood", "severity": 2, "location": point(*FENGQING), "title": "城区内涝 Street flooding",
        "description": "Water 40 cm deep on 滇红路", "address": "凤庆县凤山镇滇红路", "reporter_name": "张三",
        "reporter_phone": "13900000000", "occurred_at": "2024-07-01T08:30:00+08:00",
    }
    body.update(overrides)
    return body


def report(client, expect=201, headers=None, **overrides):
    response = client.post(f"{API}/incidents", report_body(**overrides), format="json", headers=headers)
    assert response.status_code == expect, response.content
    return response.json()


def post(client, path, body=None, expect=200):
    response = client.post(f"{API}{path}", body or {}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def get(client, path, expect=200, **params):
    response = client.get(f"{API}{path}", params)
    assert response.status_code == expect, response.content
    return response.json()


def ticket_of(result, kind):
    (ticket,) = [t for t in result["tickets"] if t["subcenter"]["kind"] == kind]
    return ticket


def nothing_written():
    """Tell whether no incident, ticket or event of one exists (terminal presence aside)."""
    events = Event.objects.exclude(name="terminal.presence")
    return not Incident.objects.exists() and not Ticket.objects.exists() and not events.exists()


@pytest.fixture
def live_terminals(cast, django_user_model):
    """A live terminal at every sub-center of 凤庆县 and 云县, so no ticket is paged at once."""
    user = django_user_model.objects.create_user("t-terminals")
    for subcenter in SubCenter.objects.filter(code__regex=rf"^({'|'.join(LIVE_COUNTIES)})-"):
        services.terminal_connect(channel_name=f"test!{subcenter.code}", user=user, subcenter_id=subcenter.id)


@pytest.fixture
def dispatcher(cast):
    return client_for(cast.dispatcher)


@pytest.fixture
def water(cast):
    return client_for(cast.water_op)


# ---- reporting -----------------------------------------------------------------------


def test_level_ii_flood_in_fengqing_issues_one_ticket_per_plan_kind_of_530921(dispatcher):
    result = report(dispatcher)
    codes = {t["subcenter"]["code"] for t in result["tickets"]}
    assert codes == {f"530921-{kind}" for kind in FLOOD_II_KINDS}
    assert {t["status"] for t in result["tickets"]} == {"issued"}
    assert result["incident"]["status"] == "dispatched"
    assert result["incident"]["location"] == point(*FENGQING)
    assert result["routing"]["plan"]["kinds"] and set(result["routing"]["plan"]["kinds"]) == FLOOD_II_KINDS
    assert {r["jurisdiction_code"] for r in result["routing"]["routes"]} == {"530921"}
    assert result["routing"]["triage"] is False
    assert Ticket.objects.filter(incident_id=result["incident"]["id"]).count() == 4


def test_report_by_token_is_marked_api_and_by_session_console(cast):
    token = post(APIClient(), "/auth/token", {"username": "t-dispatcher", "password": password_of("t-dispatcher")})["token"]
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert report(machine)["incident"]["source"] == "api"
    browser = APIClient()
    browser.force_login(cast.dispatcher)
    assert report(browser)["incident"]["source"] == "console"


def test_token_refused_for_wrong_password_names_no_field_but_detail(cast):
    body = post(APIClient(), "/auth/token", {"username": "t-dispatcher", "password": "wrong"}, expect=400)
    assert list(body["errors"]) == ["detail"]
    body = post(APIClient(), "/auth/token", {"username": "t-dispatcher"}, expect=400)
    assert list(body["errors"]) == ["password"]


def test_point_outside_every_jurisdiction_goes_to_triage_and_is_assigned_by_hand(dispatcher):
    result = report(dispatcher, location=point(*BEIJING))
    incident_id = result["incident"]["id"]
    assert result["tickets"] == [] and result["incident"]["status"] == "triage"
    assert result["routing"]["triage"] is True
    assert set(result["routing"]["unassigned_kinds"]) == FLOOD_II_KINDS
    body = post(dispatcher, f"/incidents/{incident_id}/assign", {"subcenter": "530921-water", "note": "nearest"}, 201)
    assert body["ticket"]["subcenter"]["code"] == "530921-water"
    assert body["ticket"]["routing"]["rule"] == "manual"
    assert body["incident"]["status"] == "dispatched"
    assert "water" not in body["incident"]["unassigned_kinds"]


def test_assign_names_an_unknown_subcenter(dispatcher):
    incident_id = report(dispatcher, location=point(*BEIJING))["incident"]["id"]
    body = post(dispatcher, f"/incidents/{incident_id}/assign", {"subcenter": "nowhere"}, 400)
    assert list(body["errors"]) == ["subcenter"]
    assert not Ticket.objects.exists()


# ---- the lifecycle over HTTP ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # each request commits, and commits number the events
def test_whole_lifecycle_over_http(dispatcher, water, cast):
    result = report(dispatcher)
    incident_id = result["incident"]["id"]
    ticket_id = ticket_of(result, "water")["id"]
    t = f"/tickets/{ticket_id}"

    assert post(water, f"{t}/deliver")["ticket"]["status"] == "delivered"
    assert post(water, f"{t}/accept")["ticket"]["accepted_by"] == "t-water"
    assert post(dispatcher, f"{t}/confirm")["ticket"]["status"] == "confirmed"
    progress = post(water, f"{t}/feedback", {"text": "Pumps started"}, 201)
    assert progress["feedback"]["final"] is False and progress["ticket"]["status"] == "confirmed"
    final = post(water, f"{t}/feedback", {"text": "Water gone", "final": True}, 201)
    assert final["ticket"]["status"] == "resolved"
    reopened = post(dispatcher, f"{t}/reopen", {"reason": "Second street still flooded"})
    assert reopened["ticket"]["status"] == "confirmed" and reopened["ticket"]["reason"] == "Second street still flooded"
    post(water, f"{t}/feedback", {"text": "Both streets dry", "final": True}, 201)
    closed_ticket = post(dispatcher, f"{t}/close")
    assert closed_ticket == {"ticket": get(dispatcher, t)["ticket"], "changed": True, "seq": closed_ticket["seq"]}
    assert isinstance(closed_ticket["seq"], int)  # the log's head after the write (numbered at commit)
    for other in result["tickets"]:
        if other["id"] != ticket_id:
            post(dispatcher, f"/tickets/{other['id']}/cancel", {"reason": "handled by water affairs"})

    closed = post(dispatcher, f"/incidents/{incident_id}/close", {"outcome": "积水已排除", "reason": "all clear"})
    assert closed["incident"]["status"] == "closed"

    detail = get(dispatcher, f"/incidents/{incident_id}")
    names = [event["name"] for event in detail["events"]]
    assert names[0] == "incident.reported" and names[-1] == "incident.closed"
    water_events = [e["name"] for e in detail["events"] if e["ticket_id"] == ticket_id]
    assert water_events == [
        "ticket.issued", "ticket.delivered", "ticket.accepted", "ticket.confirmed", "ticket.feedback",
        "ticket.resolved", "ticket.reopened", "ticket.resolved", "ticket.closed",
    ]
    assert [f["text"] for f in detail["feedback"]] == ["Pumps started", "Water gone", "Both streets dry"]
    assert [e["seq"] for e in detail["events"]] == sorted(e["seq"] for e in detail["events"])


def test_repeated_acknowledgement_answers_unchanged(dispatcher, water):
    ticket_id = ticket_of(report(dispatcher), "water")["id"]
    assert post(water, f"/tickets/{ticket_id}/deliver")["changed"] is True
    again = post(water, f"/tickets/{ticket_id}/deliver")
    assert again["changed"] is False and again["ticket"]["status"] == "delivered"
    assert Event.objects.filter(ticket_id=ticket_id, name="ticket.delivered").count() == 1


def test_forbidden_transition_is_409_with_the_current_status(dispatcher, water):
    result = report(dispatcher)
    ticket_id = ticket_of(result, "water")["id"]
    body = post(water, f"/tickets/{ticket_id}/accept", expect=409)
    assert body["status"] == "issued" and list(body["errors"]) == ["status"]
    body = post(dispatcher, f"/tickets/{ticket_id}/close", expect=409)
    assert body["status"] == "issued"
    body = post(dispatcher, f"/incidents/{result['incident']['id']}/close", {"outcome": "处置完毕"}, expect=409)
    assert body["status"] == "dispatched"
    assert Ticket.objects.get(pk=ticket_id).status == "issued"


@pytest.mark.parametrize("action", ["reject", "reopen", "cancel"])
def test_actions_that_need_a_reason_name_it(dispatcher, water, action):
    ticket_id = ticket_of(report(dispatcher), "water")["id"]
    client = water if action == "reject" else dispatcher
    for body in ({}, {"reason": "   "}):
        assert list(post(client, f"/tickets/{ticket_id}/{action}", body, 400)["errors"]) == ["reason"]
    assert Ticket.objects.get(pk=ticket_id).status == "issued"


def test_rejected_ticket_goes_back_for_reassignment(dispatcher, water):
    result = report(dispatcher, severity=3)  # level III flood: water only
    ticket_id = ticket_of(result, "water")["id"]
    rejected = post(water, f"/tickets/{ticket_id}/reject", {"reason": "Not our district's pumps"})
    assert rejected["ticket"]["status"] == "rejected"
    incident = get(dispatcher, f"/incidents/{result['incident']['id']}")["incident"]
    assert incident["status"] == "triage" and incident["unassigned_kinds"] == ["water"]


def test_feedback_needs_text(dispatcher, water):
    ticket_id = ticket_of(report(dispatcher), "water")["id"]
    post(water, f"/tickets/{ticket_id}/deliver")
    post(water, f"/tickets/{ticket_id}/accept")
    assert list(post(water, f"/tickets/{ticket_id}/feedback", {"final": True}, 400)["errors"]) == ["text"]
    assert not Feedback.objects.exists()


# ---- idempotency ---------------------------------------------------------------------


def test_retry_with_the_same_idempotency_key_returns_the_first_result(dispatcher):
    headers = {"Idempotency-Key": "call-119-20240701-0001"}
    first = report(dispatcher, headers=headers)
    events = Event.objects.count()
    retry = report(dispatcher, expect=200, headers=headers)
    assert retry["incident"]["id"] == first["incident"]["id"]
    assert [t["id"] for t in retry["tickets"]] == [t["id"] for t in first["tickets"]]
    assert Incident.objects.count() == 1 and Ticket.objects.count() == 4
    assert Event.objects.count() == events


def test_same_idempotency_key_with_a_different_body_is_409(dispatcher):
    headers = {"Idempotency-Key": "call-119-20240701-0002"}
    report(dispatcher, headers=headers)
    body = report(dispatcher, expect=409, headers=headers, severity=1)
    assert body["errors"] == {"idempotency_key": [ERR_IDEMPOTENCY_REUSED]}
    assert Incident.objects.count() == 1


def test_malformed_idempotency_key_is_refused(dispatcher):
    body = report(dispatcher, expect=400, headers={"Idempotency-Key": "k" * 129})
    assert list(body["errors"]) == ["idempotency_key"]
    assert nothing_written()


# ---- bad input -----------------------------------------------------------------------

BAD_REPORTS = [
    ("longitude out of range", {"location": point(200, 24.6)}, "location"),
    ("latitude out of range", {"location": point(99.95, -91)}, "location"),
    ("a line, not a point", {"location": {"type": "LineString", "coordinates": [[99.9, 24.6], [99.95, 24.6]]}},
     "location"),
    ("one coordinate", {"location": {"type": "Point", "coordinates": [99.95]}}, "location"),
    ("text coordinates", {"location": {"type": "Point", "coordinates": ["99.95", "24.6"]}}, "location"),
    ("not an object", {"location": "99.95,24.6"}, "location"),
    ("missing location", {"location": None}, "location"),
    ("unknown category", {"category": "alien_invasion"}, "category"),
    ("severity 0", {"severity": 0}, "severity"),
    ("severity 5", {"severity": 5}, "severity"),
    ("severity in words", {"severity": "high"}, "severity"),
    ("fractional severity", {"severity": 2.5}, "severity"),
    ("empty title", {"title": "   "}, "title"),
    ("title too long", {"title": "x" * 201}, "title"),
    ("phone too long", {"reporter_phone": "1" * 33}, "reporter_phone"),
    ("bad occurred_at", {"occurred_at": "yesterday morning"}, "occurred_at"),
    ("occurred_at in the future", {"occurred_at": (timezone.now() + timedelta(days=1)).isoformat()}, "occurred_at"),
    ("a typo in a field name", {"serverity": 2}, "serverity"),
]


@pytest.mark.parametrize(("overrides", "field"), [case[1:] for case in BAD_REPORTS], ids=[c[0] for c in BAD_REPORTS])
def test_bad_report_names_the_field_and_writes_nothing(dispatcher, overrides, field):
    body = report_body(**overrides)
    for key in [k for k, v in overrides.items() if v is None]:
        del body[key]
    response = dispatcher.post(f"{API}/incidents", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert all(isinstance(m, str) for m in response.json()["errors"][field])
    assert nothing_written()


def test_infinite_coordinate_is_refused(dispatcher):
    body = json.dumps(report_body(location=point(0, 24.6))).replace('"coordinates": [0, ', '"coordinates": [1e999, ')
    response = dispatcher.post(f"{API}/incidents", body, content_type="application/json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["location"]
    assert nothing_written()


@pytest.mark.parametrize("field", ["category", "severity", "location", "title"])
def test_missing_required_field_is_named(dispatcher, field):
    body = report_body()
    del body[field]
    response = dispatcher.post(f"{API}/incidents", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert nothing_written()


def test_body_that_is_not_json_is_refused_as_body(dispatcher):
    response = dispatcher.post(f"{API}/incidents", "{not json", content_type="application/json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["body"]
    response = dispatcher.post(f"{API}/incidents", json.dumps([report_body()]), content_type="application/json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["detail"]
    assert nothing_written()


def test_body_over_the_limit_is_413_and_writes_nothing(dispatcher):
    body = report_body(description="x" * MAX_BODY_BYTES)
    response = dispatcher.post(f"{API}/incidents", body, format="json")
    assert response.status_code == 413
    assert list(response.json()["errors"]) == ["body"]
    assert nothing_written()


def test_body_just_under_the_limit_is_read(dispatcher):
    body = report_body(description="")
    body["description"] = "x" * (MAX_BODY_BYTES - len(json.dumps(body)) - 100)
    assert report(dispatcher, description=body["description"])["incident"]["description"] == body["description"]


def test_a_form_body_is_refused_as_unsupported(dispatcher):
    response = dispatcher.post(f"{API}/incidents", {"category": "flood"}, format="multipart")
    assert response.status_code == 415 and list(response.json()["errors"]) == ["body"]


def test_unauthenticated_call_gets_the_error_format():
    response = APIClient().get(f"{API}/incidents")
    assert response.status_code in (401, 403) and list(response.json()["errors"]) == ["detail"]


def test_unknown_ticket_is_404_in_the_error_format(dispatcher):
    assert list(get(dispatcher, "/tickets/999999", expect=404)["errors"]) == ["ticket"]
    assert list(get(dispatcher, "/incidents/999999", expect=404)["errors"]) == ["incident"]


# ---- reading -------------------------------------------------------------------------


@pytest.fixture
def three_incidents(dispatcher):
    """A level II flood in 凤庆县, a level III building fire in 云县, an epidemic in triage."""
    flood = report(dispatcher)["incident"]
    fire = report(dispatcher, category="building_fire", severity=3, location=point(*YUN), title="Shop fire")
    epidemic = report(dispatcher, category="epidemic", severity=1, location=point(*BEIJING), title="Cluster")
    return flood, fire["incident"], epidemic["incident"]


def ids(collection):
    return {feature["id"] for feature in collection["features"]}


def test_incident_list_is_geojson_with_filters(dispatcher, three_incidents):
    flood, fire, epidemic = three_incidents
    everything = get(dispatcher, "/incidents")
    assert everything["type"] == "FeatureCollection" and ids(everything) == {flood["id"], fire["id"], epidemic["id"]}
    feature = next(f for f in everything["features"] if f["id"] == fire["id"])
    assert feature["geometry"] == point(*YUN) and feature["properties"]["category"] == "building_fire"
    assert ids(get(dispatcher, "/incidents", status="triage")) == {epidemic["id"]}
    assert ids(get(dispatcher, "/incidents", status="triage,dispatched")) == {flood["id"], fire["id"], epidemic["id"]}
    assert ids(get(dispatcher, "/incidents", category="flood")) == {flood["id"]}
    assert ids(get(dispatcher, "/incidents", severity="1,3")) == {fire["id"], epidemic["id"]}
    assert ids(get(dispatcher, "/incidents", bbox="99.9,24.55,100.0,24.65")) == {flood["id"]}
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert ids(get(dispatcher, "/incidents", reported_after=later)) == set()
    assert len(ids(get(dispatcher, "/incidents", reported_before=later))) == 3
    newest = get(dispatcher, "/incidents", limit=1)
    assert ids(newest) == {epidemic["id"]} and newest["truncated"] is True


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"), ({"severity": "9"}, "severity"), ({"severity": "two"}, "severity"),
        ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "100,25,99,24"}, "bbox"), ({"limit": 5001}, "limit"),
        ({"limit": 0}, "limit"), ({"reported_after": "soon"}, "reported_after"),
        ({"reported_after": "2024-07-02T00:00:00Z", "reported_before": "2024-07-01T00:00:00Z"}, "reported_before"),
    ],
)
def test_incident_list_names_a_bad_filter(dispatcher, params, field):
    assert list(get(dispatcher, "/incidents", expect=400, **params)["errors"]) == [field]


def test_operator_lists_only_incidents_with_a_ticket_for_their_subcenter(cast, three_incidents):
    flood, fire, _ = three_incidents
    assert ids(get(client_for(cast.water_op), "/incidents")) == {flood["id"]}
    tickets = get(client_for(cast.water_op), "/tickets")["tickets"]
    assert {t["subcenter"]["code"] for t in tickets} == {"530921-water"}


def test_operator_sees_only_their_tickets_and_events_in_an_incident(cast, dispatcher):
    result = report(dispatcher)
    incident_id = result["incident"]["id"]
    mine = get(client_for(cast.water_op), f"/incidents/{incident_id}")
    assert [t["subcenter"]["code"] for t in mine["tickets"]] == ["530921-water"]
    water_id = mine["tickets"][0]["id"]
    assert {e["ticket_id"] for e in mine["events"]} == {None, water_id}
    everything = get(dispatcher, f"/incidents/{incident_id}")
    assert len(everything["tickets"]) == 4 and len(everything["events"]) > len(mine["events"])


def test_ticket_list_filters(dispatcher, three_incidents):
    flood, fire, _ = three_incidents
    by_incident = get(dispatcher, "/tickets", incident=fire["id"])["tickets"]
    assert [t["subcenter"]["code"] for t in by_incident] == ["530922-fire"]
    assert len(get(dispatcher, "/tickets", status="issued")["tickets"]) == 5
    assert get(dispatcher, "/tickets", status="accepted")["tickets"] == []
    assert [t["incident_id"] for t in get(dispatcher, "/tickets", subcenter="530921-water")["tickets"]] == [flood["id"]]
    assert list(get(dispatcher, "/tickets", expect=400, status="nope")["errors"]) == ["status"]


def test_overdue_tickets_are_listed_unless_filtered_out(dispatcher, three_incidents):
    flood, _, _ = three_incidents
    late = Ticket.objects.filter(incident_id=flood["id"], subcenter__code="530921-water")
    late.update(overdue=True, escalation_level=1)  # as the deadline worker leaves it
    assert len(get(dispatcher, "/tickets")["tickets"]) == 5
    assert [t["overdue"] for t in get(dispatcher, "/tickets", overdue="true")["tickets"]] == [True]
    assert len(get(dispatcher, "/tickets", overdue="false")["tickets"]) == 4


def test_list_endpoints_take_a_fixed_number_of_queries(dispatcher, django_assert_max_num_queries):
    for _ in range(3):
        report(dispatcher)
    with django_assert_max_num_queries(6):
        assert len(get(dispatcher, "/incidents")["features"]) == 3
    with django_assert_max_num_queries(6):
        assert len(get(dispatcher, "/tickets")["tickets"]) == 12


# ---- maps, routing, reference data, figures -----------------------------------------


def haversine_m(a, b):
    """Return the great-circle distance in meters (a sphere: close to, not equal to, the spheroid)."""
    (lon1, lat1), (lon2, lat2) = [(math.radians(x), math.radians(y)) for x, y in (a, b)]
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_nearby_lists_features_by_distance_in_meters(dispatcher):
    incident_id = report(dispatcher)["incident"]["id"]
    near = get(dispatcher, f"/incidents/{incident_id}/nearby", layer="county_seats", radius_m=100_000)
    distances = [f["properties"]["distance_m"] for f in near["features"]]
    assert distances == sorted(distances) and all(d <= 100_000 for d in distances)
    assert near["features"][0]["properties"]["name"] == "凤庆县人民政府驻地"
    assert "云县人民政府驻地" in [f["properties"]["name"] for f in near["features"]]
    for feature in near["features"]:
        expected = haversine_m(FENGQING, feature["geometry"]["coordinates"])
        assert feature["properties"]["distance_m"] == pytest.approx(expected, rel=0.005)
    close = get(dispatcher, f"/incidents/{incident_id}/nearby", layer="county_seats")
    assert [f["properties"]["name"] for f in close["features"]] == ["凤庆县人民政府驻地"]
    assert close["radius_m"] == 5000


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "layer"), ({"layer": "unicorns"}, "layer"), ({"layer": "county_seats", "radius_m": 100_001}, "radius_m"),
     ({"layer": "county_seats", "radius_m": "far"}, "radius_m")],
)
def test_nearby_names_a_bad_parameter(dispatcher, params, field):
    incident_id = report(dispatcher)["incident"]["id"]
    assert list(get(dispatcher, f"/incidents/{incident_id}/nearby", expect=400, **params)["errors"]) == [field]


def test_route_preview_answers_per_kind_and_writes_nothing(dispatcher):
    answer = get(dispatcher, "/route", lon=FENGQING[0], lat=FENGQING[1], category="flood", severity=2)
    assert set(answer["kinds"]) == FLOOD_II_KINDS
    assert {r["subcenter_code"] for r in answer["routes"]} == {f"530921-{k}" for k in FLOOD_II_KINDS}
    assert {r["rule"] for r in answer["routes"]} == {"covered"}
    by_kinds = get(dispatcher, "/route", lon=YUN[0], lat=YUN[1], kinds="water,fire")
    assert [r["subcenter_code"] for r in by_kinds["routes"]] == ["530922-water", "530922-fire"]
    assert by_kinds["plan"] is None
    nowhere = get(dispatcher, "/route", lon=BEIJING[0], lat=BEIJING[1], kinds="fire")
    assert nowhere["triage"] is True and nowhere["routes"] == [{"kind": "fire", "rule": "no_owner", "candidates": 0}]
    assert nothing_written()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 24.6, "kinds": "water"}, "lon"), ({"lon": 181, "lat": 24.6, "kinds": "water"}, "lon"),
        ({"lon": 99.9, "lat": 24.6}, "category"), ({"lon": 99.9, "lat": 24.6, "category": "flood"}, "severity"),
        ({"lon": 99.9, "lat": 24.6, "category": "nope", "severity": 2}, "category"),
        ({"lon": 99.9, "lat": 24.6, "kinds": "water,police"}, "kinds"),
        ({"lon": 99.9, "lat": 24.6, "kinds": "water", "category": "flood", "severity": 2}, "kinds"),
    ],
)
def test_route_preview_names_a_bad_parameter(dispatcher, params, field):
    assert list(get(dispatcher, "/route", expect=400, **params)["errors"]) == [field]


def test_categories_carry_their_plans(dispatcher):
    categories = {c["code"]: c for c in get(dispatcher, "/categories")["categories"]}
    flood = categories["flood"]
    assert flood["national_class"] == "natural_disaster" and flood["name"] == "洪涝/城市内涝"
    assert [(p["severity_min"], p["severity_max"]) for p in flood["plans"]] == [(1, 2), (3, 4)]
    assert set(flood["plans"][0]["kinds"]) == FLOOD_II_KINDS and flood["plans"][1]["kinds"] == ["water"]
    assert flood["plans"][0]["deadlines"] == {"deliver_s": 10, "accept_s": 60, "confirm_s": 60, "feedback_s": 1800}
    assert flood["plans"][0]["checklist"]
    assert categories["public_disorder"]["plans"] == []


def test_subcenters_list_kind_coverage_and_duty_phone(dispatcher):
    subcenters = {s["code"]: s for s in get(dispatcher, "/subcenters")["subcenters"]}
    water = subcenters["530921-water"]
    assert water["kind"] == "water" and water["jurisdictions"] == ["530921"]
    assert "duty_phone" in water and water["coverage_area_m2"] > 1e9
    assert water["terminal"]["online"] == 1 and water["terminal"]["last_heartbeat"]
    assert subcenters["530923-water"]["terminal"] == {"online": 0, "audio_armed": False, "last_heartbeat": None}
    assert sum(code.startswith("5309") for code in subcenters) == 48


def test_dashboard_counts(dispatcher, water, three_incidents):
    flood, _, _ = three_incidents
    ticket_id = get(dispatcher, "/tickets", incident=flood["id"], subcenter="530921-water")["tickets"][0]["id"]
    post(water, f"/tickets/{ticket_id}/deliver")
    figures = get(dispatcher, "/dashboard")
    assert figures["incidents"]["by_status"] == {
        "triage": 1, "dispatched": 2, "acknowledged": 0, "resolved": 0, "closed": 0
    }
    assert figures["incidents"]["open_by_category"] == {"building_fire": 1, "epidemic": 1, "flood": 1}
    assert figures["incidents"]["open_by_severity"] == {"1": 1, "2": 1, "3": 1, "4": 0}
    assert figures["tickets"]["by_status"]["issued"] == 4 and figures["tickets"]["by_status"]["delivered"] == 1
    assert figures["tickets"]["overdue_now"] == 0


def test_dashboard_counts_tickets_past_their_deadline_as_overdue(dispatcher, three_incidents):
    later = selectors.dashboard_figures(now=timezone.now() + timedelta(minutes=5))
    assert later["tickets"]["overdue_now"] == 5  # every issued ticket missed its 10 s delivery
    assert later["tickets"]["overdue_by_subcenter"]["530922-fire"] == 1


def test_docs_page_is_served_without_outside_assets(dispatcher):
    response = dispatcher.get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/incidents/{incident_id}/nearby" in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html


def test_a_user_without_a_role_is_refused(cast):
    nobody = cast.dispatcher.__class__.objects.create_user("t-nobody")
    assert not Group.objects.filter(user=nobody).exists()
    body = get(client_for(nobody), "/incidents", expect=403)
    assert list(body["errors"]) == ["detail"]


def test_an_id_beyond_any_row_is_404_not_500(dispatcher, water):
    huge = 10**20
    assert list(get(dispatcher, f"/incidents/{huge}", expect=404)["errors"]) == ["incident"]
    assert list(post(water, f"/tickets/{huge}/deliver", expect=404)["errors"]) == ["ticket"]
