"""The command center's incident workflow over HTTP: edit, severity, calls, duplicates, merge, close with outcome."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Call, Event, Incident, Ticket
from dispatch.selectors.stream import head_seq

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("terminals_online")]

API = "/api/v1"
FENGQING = (99.95, 24.6)  # inside 凤庆县 (530921)
NEAR_FENGQING = (99.952, 24.6)  # about 200 m east
FAR_FENGQING = (99.97, 24.6)  # about 2 km east
FLOOD_II_EXTRA = {"civil_affairs", "civil_air_defense", "health"}  # what a level II flood adds to level IV's water


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def call(client, method, path, body=None, expect=200, **params):
    if method == "get":
        response = client.get(f"{API}{path}", params)
    else:
        response = getattr(client, method)(f"{API}{path}", body or {}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def report(client, *, at=FENGQING, category="flood", severity=4, **extra):
    body = {"category": category, "severity": severity, "location": point(*at), "title": "城区积水",
            "address": "凤山镇", "reporter_name": "张三", "reporter_phone": "13900000000", **extra}
    return call(client, "post", "/incidents", body, 201)


def events(incident_id, name=None):
    found = Event.objects.filter(incident_id=incident_id).order_by("seq", "id")
    return list(found.filter(name=name) if name else found)


def kinds(answer):
    return sorted(t["subcenter"]["kind"] for t in answer["tickets"])


@pytest.fixture
def dispatcher(cast):
    return client_for(cast.dispatcher)


@pytest.fixture
def operator(cast):
    return client_for(cast.water_op)


# ---- seq on answers, the first call -----------------------------------------------------------


def test_report_creates_the_first_call_and_answers_with_the_head_seq(dispatcher):
    answer = report(dispatcher)
    incident_id = answer["incident"]["id"]
    assert answer["incident"]["call_count"] == 1
    (first,) = call(dispatcher, "get", f"/incidents/{incident_id}/calls")["calls"]
    assert (first["reporter_name"], first["reporter_phone"], first["received_by"]) == ("张三", "13900000000", "t-dispatcher")
    assert first["location"] == point(*FENGQING) and first["moved_from"] is None


def test_incident_answers_carry_the_new_fields_and_the_seq(dispatcher):
    incident_id = report(dispatcher)["incident"]["id"]
    detail = call(dispatcher, "get", f"/incidents/{incident_id}")
    incident = detail["incident"]
    assert (incident["outcome"], incident["duplicate_of"], incident["call_count"]) == ("", None, 1)
    assert incident["category_name_en"] and incident["category_name_en"] != incident["category_name"]


# ---- edit ------------------------------------------------------------------------------------------


def test_edit_changes_only_the_fields_sent_and_its_event_says_what_changed(dispatcher, cast):
    incident_id = report(dispatcher)["incident"]["id"]
    answer = call(dispatcher, "patch", f"/incidents/{incident_id}",
                  {"title": "  滇红路积水  ", "address": "凤山镇滇红路", "reporter_name": "张三"})
    assert answer["incident"]["title"] == "滇红路积水" and answer["incident"]["address"] == "凤山镇滇红路"
    assert answer["incident"]["reporter_phone"] == "13900000000"
    (updated,) = events(incident_id, "incident.updated")
    assert updated.payload["changes"] == {"title": ["城区积水", "滇红路积水"], "address": ["凤山镇", "凤山镇滇红路"]}
    assert updated.payload["incident"] == answer["incident"]
    assert updated.audience == [cast.water_op.operator_post.subcenter_id]


def test_an_edit_that_changes_nothing_writes_no_event(dispatcher):
    incident_id = report(dispatcher)["incident"]["id"]
    call(dispatcher, "patch", f"/incidents/{incident_id}", {"title": "城区积水"})
    assert not events(incident_id, "incident.updated")


@pytest.mark.parametrize("body,field", [
    ({"title": "   "}, "title"), ({"title": 5}, "title"), ({"reporter_phone": "1" * 33}, "reporter_phone"),
    ({"severity": 1}, "severity"), ({"address": "a\u0000b"}, "address"),
])
def test_a_bad_edit_names_the_field_and_writes_nothing(dispatcher, body, field):
    incident_id = report(dispatcher)["incident"]["id"]
    assert field in call(dispatcher, "patch", f"/incidents/{incident_id}", body, 400)["errors"]
    assert Incident.objects.get(pk=incident_id).title == "城区积水" and not events(incident_id, "incident.updated")


def test_a_closed_incident_is_not_edited(dispatcher, cast):
    incident_id = closed_incident(dispatcher, cast)
    body = call(dispatcher, "patch", f"/incidents/{incident_id}", {"title": "改"}, 409)
    assert body["status"] == "closed"


# ---- severity -------------------------------------------------------------------------------------


def test_raising_severity_issues_exactly_the_tickets_the_new_plan_is_missing(dispatcher, cast):
    first = report(dispatcher, severity=4)
    incident_id = first["incident"]["id"]
    assert kinds(first) == ["water"]
    answer = call(dispatcher, "post", f"/incidents/{incident_id}/severity", {"severity": 2, "reason": "水位上涨"})
    assert set(kinds(answer)) == FLOOD_II_EXTRA and len(answer["tickets"]) == 3
    assert answer["incident"]["severity"] == 2 and answer["note"] == ""
    assert Ticket.objects.filter(incident_id=incident_id).count() == 4
    issued = events(incident_id, "ticket.issued")[1:]
    assert sorted(e.payload["ticket"]["subcenter"]["kind"] for e in issued) == sorted(FLOOD_II_EXTRA)
    assert all(e.payload["incident"] == answer["incident"] for e in issued)
    (updated,) = events(incident_id, "incident.updated")
    assert updated.payload["changes"]["severity"] == [4, 2] and updated.payload["reason"] == "水位上涨"
    old_plan, new_plan = updated.payload["changes"]["plan"]
    assert old_plan == first["routing"]["plan"]["name"] and new_plan and new_plan != old_plan
    assert sorted(updated.audience) == sorted(Ticket.objects.filter(incident_id=incident_id).values_list("subcenter_id", flat=True))
    # The new tickets are routed as a report routes them.
    assert all(t["routing"]["rule"] == "covered" and t["routing"]["jurisdiction_code"] == "530921" for t in answer["tickets"])


def test_raising_severity_issues_again_a_kind_whose_ticket_was_cancelled(dispatcher, cast):
    first = report(dispatcher, severity=4)
    incident_id = first["incident"]["id"]
    services.ticket_cancel(actor=cast.dispatcher, ticket_id=first["tickets"][0]["id"], reason="派错")
    answer = call(dispatcher, "post", f"/incidents/{incident_id}/severity", {"severity": 1, "reason": "升级"})
    assert set(kinds(answer)) == FLOOD_II_EXTRA | {"water"}
    assert answer["incident"]["status"] == "dispatched"


def test_raising_severity_leaves_a_rejected_kind_to_the_hand_assignment(dispatcher, cast):
    first = report(dispatcher, severity=4)
    incident_id = first["incident"]["id"]
    services.ticket_reject(actor=cast.water_op, ticket_id=first["tickets"][0]["id"], reason="非本单位")
    answer = call(dispatcher, "post", f"/incidents/{incident_id}/severity", {"severity": 2, "reason": "升级"})
    assert set(kinds(answer)) == FLOOD_II_EXTRA
    assert answer["incident"]["unassigned_kinds"] == ["water"]


def test_lowering_severity_issues_and_cancels_nothing_and_says_so(dispatcher):
    first = report(dispatcher, severity=2)
    incident_id = first["incident"]["id"]
    answer = call(dispatcher, "post", f"/incidents/{incident_id}/severity", {"severity": 4, "reason": "水已退"})
    assert answer["tickets"] == [] and "撤销" in answer["note"]  # in Chinese: no Accept-Language
    assert answer["incident"]["severity"] == 4
    assert set(Ticket.objects.filter(incident_id=incident_id).values_list("status", flat=True)) == {"issued"}
    assert [e.name for e in events(incident_id)][-1] == "incident.updated"
    assert len(events(incident_id, "ticket.issued")) == 4


@pytest.mark.parametrize("body,field", [
    ({"severity": 2}, "reason"), ({"severity": 2, "reason": "  "}, "reason"), ({"severity": 5, "reason": "x"}, "severity"),
    ({"severity": "II", "reason": "x"}, "severity"), ({"reason": "x"}, "severity"),
])
def test_a_bad_severity_change_names_the_field_and_writes_nothing(dispatcher, body, field):
    incident_id = report(dispatcher, severity=4)["incident"]["id"]
    assert field in call(dispatcher, "post", f"/incidents/{incident_id}/severity", body, 400)["errors"]
    assert Incident.objects.get(pk=incident_id).severity == 4 and Ticket.objects.count() == 1


# ---- calls -----------------------------------------------------------------------------------------


def test_another_call_is_attached_counted_and_sent_as_an_event(dispatcher, cast):
    incident_id = report(dispatcher)["incident"]["id"]
    body = {"reporter_name": "李四", "reporter_phone": "13800000000", "note": "水更深了", "location": point(*NEAR_FENGQING)}
    answer = call(dispatcher, "post", f"/incidents/{incident_id}/calls", body, 201)
    assert answer["incident"]["call_count"] == 2
    assert answer["call"]["note"] == "水更深了" and answer["call"]["location"] == point(*NEAR_FENGQING)
    (event,) = events(incident_id, "incident.call")
    assert event.payload == {"incident": answer["incident"], "call": answer["call"]}
    assert event.audience == [cast.water_op.operator_post.subcenter_id]
    no_place = call(dispatcher, "post", f"/incidents/{incident_id}/calls", {"reporter_phone": "110"}, 201)
    assert no_place["call"]["location"] is None and no_place["incident"]["call_count"] == 3
    listed = call(dispatcher, "get", f"/incidents/{incident_id}/calls")["calls"]
    assert [c["reporter_name"] for c in listed] == ["张三", "李四", ""]


def test_operator_reads_the_calls_of_their_incidents_only(dispatcher, operator):
    ours = report(dispatcher)["incident"]["id"]
    theirs = report(dispatcher, category="epidemic", severity=4)["incident"]["id"]
    assert len(call(operator, "get", f"/incidents/{ours}/calls")["calls"]) == 1
    if not Ticket.objects.filter(incident_id=theirs, subcenter__code="530921-water").exists():
        call(operator, "get", f"/incidents/{theirs}/calls", expect=404)


@pytest.mark.parametrize("body,field", [
    ({"location": {"type": "Point", "coordinates": [200, 0]}}, "location"), ({"note": 3}, "note"),
    ({"reporter_phone": "1" * 33}, "reporter_phone"), ({"caller": "x"}, "caller"),
])
def test_a_bad_call_names_the_field_and_writes_nothing(dispatcher, body, field):
    incident_id = report(dispatcher)["incident"]["id"]
    assert field in call(dispatcher, "post", f"/incidents/{incident_id}/calls", body, 400)["errors"]
    assert Call.objects.count() == 1 and Incident.objects.get(pk=incident_id).call_count == 1


def test_a_call_to_a_closed_incident_is_refused(dispatcher, cast):
    incident_id = closed_incident(dispatcher, cast)
    call(dispatcher, "post", f"/incidents/{incident_id}/calls", {"note": "又来电"}, 409)
    assert Incident.objects.get(pk=incident_id).call_count == 1


# ---- duplicates --------------------------------------------------------------------------------------


def test_duplicates_are_open_incidents_of_any_category_near_and_recent_nearest_first(dispatcher, cast):
    here = report(dispatcher, at=FENGQING)["incident"]["id"]
    near_other_category = report(dispatcher, at=NEAR_FENGQING, category="epidemic", severity=4)["incident"]["id"]
    far = report(dispatcher, at=FAR_FENGQING)["incident"]["id"]
    old = report(dispatcher, at=NEAR_FENGQING)["incident"]["id"]
    Incident.objects.filter(pk=old).update(reported_at=Incident.objects.get(pk=old).reported_at - timedelta(hours=3))
    closed = closed_incident(dispatcher, cast, at=NEAR_FENGQING)

    def found(**params):
        answer = call(dispatcher, "get", "/incidents/duplicates", lon=FENGQING[0], lat=FENGQING[1], **params)
        return [i["id"] for i in answer["incidents"]], answer["incidents"]

    ids, rows = found()
    assert ids == [here, near_other_category]
    assert rows[0]["distance_m"] == 0 and 150 < rows[1]["distance_m"] < 250
    assert closed not in ids and rows[1]["category"] == "epidemic"
    assert found(radius_m=3000)[0] == [here, near_other_category, far]
    assert set(found(hours=4)[0]) == {here, near_other_category, old}
    assert found(radius_m=100)[0] == [here]


def test_duplicates_follow_the_settings(dispatcher, settings):
    here = report(dispatcher, at=FAR_FENGQING)["incident"]["id"]
    assert call(dispatcher, "get", "/incidents/duplicates", lon=FENGQING[0], lat=FENGQING[1])["incidents"] == []
    settings.DUPLICATE_RADIUS_M = 3000
    assert [i["id"] for i in call(dispatcher, "get", "/incidents/duplicates", lon=FENGQING[0], lat=FENGQING[1])["incidents"]] == [here]
    settings.DUPLICATE_WINDOW_H = 1
    Incident.objects.filter(pk=here).update(reported_at=Incident.objects.get(pk=here).reported_at - timedelta(hours=1, minutes=1))
    assert call(dispatcher, "get", "/incidents/duplicates", lon=FENGQING[0], lat=FENGQING[1])["incidents"] == []


@pytest.mark.parametrize("params,field", [
    ({"lat": 24.6}, "lon"), ({"lon": 99.95, "lat": 95}, "lat"), ({"lon": 99.95, "lat": 24.6, "radius_m": 0}, "radius_m"),
    ({"lon": 99.95, "lat": 24.6, "hours": "nan"}, "hours"),
])
def test_a_bad_duplicates_query_names_the_parameter(dispatcher, params, field):
    assert field in call(dispatcher, "get", "/incidents/duplicates", expect=400, **params)["errors"]


# ---- merge -------------------------------------------------------------------------------------------


def test_merge_moves_the_calls_cancels_the_tickets_and_closes_the_duplicate(dispatcher, cast):
    original = report(dispatcher, at=FENGQING)
    duplicate = report(dispatcher, at=NEAR_FENGQING, category="epidemic", severity=4)
    original_id, duplicate_id = original["incident"]["id"], duplicate["incident"]["id"]
    call(dispatcher, "post", f"/incidents/{duplicate_id}/calls", {"reporter_name": "王五"}, 201)
    answer = call(dispatcher, "post", f"/incidents/{duplicate_id}/merge", {"into": original_id, "reason": "同一处积水"})

    merged, into = answer["incident"], answer["into"]
    assert (merged["status"], merged["duplicate_of"], merged["outcome"]) == ("closed", original_id, f"duplicate of #{original_id}")
    assert into["call_count"] == 3 and into["status"] == original["incident"]["status"]
    calls = call(dispatcher, "get", f"/incidents/{original_id}/calls")["calls"]
    assert [(c["reporter_name"], c["moved_from"]) for c in calls] == [("张三", None), ("张三", duplicate_id), ("王五", duplicate_id)]
    assert not Call.objects.filter(incident_id=duplicate_id).exists()
    cancelled = Ticket.objects.filter(incident_id=duplicate_id)
    assert cancelled and {(t.status, t.reason) for t in cancelled} == {("cancelled", f"duplicate of #{original_id}")}
    assert Ticket.objects.filter(incident_id=original_id, status="issued").count() == len(original["tickets"])

    names = [e.name for e in events(duplicate_id)]
    assert names[-1 - len(cancelled):] == ["ticket.cancelled"] * len(cancelled) + ["incident.merged"]
    (event,) = events(duplicate_id, "incident.merged")
    assert event.payload["incident"] == merged and event.payload["into"] == into and event.payload["reason"] == "同一处积水"
    both = {*Ticket.objects.filter(incident_id__in=[original_id, duplicate_id]).values_list("subcenter_id", flat=True)}
    assert set(event.audience) == both
    (updated,) = events(original_id, "incident.updated")
    assert updated.payload["incident"] == into and updated.payload["changes"] == {"call_count": [1, 3]}


def test_merge_is_refused_into_itself_a_closed_incident_or_a_duplicate(dispatcher, cast):
    a = report(dispatcher)["incident"]["id"]
    b = report(dispatcher, at=NEAR_FENGQING)["incident"]["id"]
    c = report(dispatcher, at=NEAR_FENGQING)["incident"]["id"]
    closed = closed_incident(dispatcher, cast)
    written = Event.objects.count()
    assert "into" in call(dispatcher, "post", f"/incidents/{a}/merge", {"into": a}, 409)["errors"]
    assert "into" in call(dispatcher, "post", f"/incidents/{a}/merge", {"into": closed}, 409)["errors"]
    assert "into" in call(dispatcher, "post", f"/incidents/{a}/merge", {"into": 10**12}, 404)["errors"]
    call(dispatcher, "post", f"/incidents/{closed}/merge", {"into": a}, 409)
    assert Event.objects.count() == written
    call(dispatcher, "post", f"/incidents/{b}/merge", {"into": a})
    body = call(dispatcher, "post", f"/incidents/{c}/merge", {"into": b}, 409)
    assert f"#{a}" in body["errors"]["into"][0]
    assert Incident.objects.get(pk=c).status != "closed" and Incident.objects.get(pk=a).call_count == 2


@pytest.mark.parametrize("body,field", [({}, "into"), ({"into": "one"}, "into"), ({"into": 0}, "into"),
                                        ({"into": 1, "reason": 1}, "reason")])
def test_a_bad_merge_names_the_field(dispatcher, body, field):
    incident_id = report(dispatcher)["incident"]["id"]
    assert field in call(dispatcher, "post", f"/incidents/{incident_id}/merge", body, 400)["errors"]


# ---- close with outcome ------------------------------------------------------------------------------


def closed_incident(dispatcher, cast, *, at=FENGQING):
    answer = report(dispatcher, at=at)
    for ticket in answer["tickets"]:
        services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket["id"], reason="误报")
    incident_id = answer["incident"]["id"]
    call(dispatcher, "post", f"/incidents/{incident_id}/close", {"outcome": "误报"})
    return incident_id


def test_close_names_every_open_ticket_then_closes_with_its_outcome(dispatcher, cast):
    answer = report(dispatcher, severity=2)
    incident_id = answer["incident"]["id"]
    tickets = list(Ticket.objects.filter(incident_id=incident_id).select_related("subcenter").order_by("id"))
    water = next(t for t in tickets if t.subcenter.code == "530921-water")
    wrong = next(t for t in tickets if t is not water)
    services.ticket_deliver(actor=cast.water_op, ticket_id=water.id)
    services.ticket_cancel(actor=cast.dispatcher, ticket_id=wrong.id, reason="派错")
    body = call(dispatcher, "post", f"/incidents/{incident_id}/close", {"outcome": "积水已排除"}, 409)
    still_open = [t for t in tickets if t is not wrong]
    assert len(still_open) == 3 and body["errors"] == {"tickets": [
        f"#{t.id} {t.subcenter.name}: {'delivered' if t is water else 'issued'}" for t in still_open
    ]}
    assert body["status"] == "dispatched"
    for ticket in still_open:
        services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket.id, reason="已处置")
    closed = call(dispatcher, "post", f"/incidents/{incident_id}/close", {"outcome": "  积水已排除  ", "reason": "现场确认"})
    assert (closed["incident"]["status"], closed["incident"]["outcome"]) == ("closed", "积水已排除")
    (event,) = events(incident_id, "incident.closed")
    assert event.payload["incident"]["outcome"] == "积水已排除" and event.payload["reason"] == "现场确认"


@pytest.mark.parametrize("body", [{}, {"outcome": ""}, {"outcome": "   "}, {"outcome": "x" * 2001}, {"outcome": 1}])
def test_close_needs_an_outcome(dispatcher, body):
    incident_id = report(dispatcher, at=(120.0, 40.0))["incident"]["id"]  # outside every county: no ticket
    assert "outcome" in call(dispatcher, "post", f"/incidents/{incident_id}/close", body, 400)["errors"]
    assert Incident.objects.get(pk=incident_id).closed_at is None


# ---- who may ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["water_op", "leader"])
def test_only_dispatchers_and_admins_change_incidents(dispatcher, cast, who):
    client = client_for(getattr(cast, who))
    a = report(dispatcher)["incident"]["id"]
    b = report(dispatcher, at=NEAR_FENGQING)["incident"]["id"]
    written = Event.objects.count()
    call(client, "patch", f"/incidents/{a}", {"title": "改"}, 403)
    call(client, "post", f"/incidents/{a}/severity", {"severity": 1, "reason": "x"}, 403)
    call(client, "post", f"/incidents/{a}/calls", {"note": "x"}, 403)
    call(client, "post", f"/incidents/{b}/merge", {"into": a}, 403)
    call(client, "post", f"/incidents/{a}/close", {"outcome": "x"}, 403)
    assert Event.objects.count() == written


def test_an_admin_may_change_incidents(cast, dispatcher):
    admin = client_for(cast.admin)
    incident_id = report(dispatcher)["incident"]["id"]
    call(admin, "patch", f"/incidents/{incident_id}", {"title": "改"})
    call(admin, "post", f"/incidents/{incident_id}/calls", {"note": "x"}, 201)


def test_operators_do_not_search_duplicates(operator):
    call(operator, "get", "/incidents/duplicates", expect=403, lon=FENGQING[0], lat=FENGQING[1])


# ---- seq: committed for real, so the log numbers the events -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_every_answer_carries_the_log_head_at_least_as_new_as_its_events(dispatcher, cast):
    def last_seq():
        return Event.objects.order_by("-seq").values_list("seq", flat=True).first()

    first = report(dispatcher)
    assert first["seq"] == last_seq() == head_seq()
    a = first["incident"]["id"]
    b = report(dispatcher, at=NEAR_FENGQING)["incident"]["id"]
    writes = [
        ("patch", f"/incidents/{a}", {"title": "改"}, 200),
        ("post", f"/incidents/{a}/severity", {"severity": 2, "reason": "升级"}, 200),
        ("post", f"/incidents/{a}/calls", {"note": "又来电"}, 201),
        ("post", f"/incidents/{b}/merge", {"into": a}, 200),
    ]
    for method, path, body, expect in writes:
        assert call(dispatcher, method, path, body, expect)["seq"] == last_seq(), path
    for ticket in Ticket.objects.filter(incident_id=a, status="issued"):
        services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket.id, reason="已处置")
    assert call(dispatcher, "post", f"/incidents/{a}/close", {"outcome": "处置完毕"})["seq"] == last_seq()
    assert call(dispatcher, "get", f"/incidents/{a}")["seq"] == last_seq()
