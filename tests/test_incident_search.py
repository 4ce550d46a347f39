"""Finding incidents: search and filters with keyset paging, the timeline from the event log, its printable page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Event, Incident

pytestmark = pytest.mark.django_db

API = "/api/v1"
FENGQING = (99.95, 24.6)  # inside 凤庆县 (530921)
YUN = (100.13, 24.44)  # inside 云县 (530922)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def get(client, path, expect=200, **params):
    response = client.get(f"{API}{path}", params)
    assert response.status_code == expect, response.content
    return response.json()


def report(cast, *, at=FENGQING, title="城区积水", severity=4, category="flood", **fields):
    return services.incident_report(
        actor=cast.dispatcher, category=category, severity=severity, lon=at[0], lat=at[1], title=title, **fields
    )


def ids(body):
    return [feature["id"] for feature in body["features"]]


@pytest.fixture
def history(cast, terminals_online):
    """Seven incidents, one a minute apart, the newest last: five in 凤庆县, two in 云县."""
    made = [
        report(cast, title="滇红路积水", address="凤庆县凤山镇滇红路", reporter_name="张三", reporter_phone="13900000001"),
        report(cast, title="Street flooding", description="Water 40 cm deep near the MARKET"),
        report(cast, at=YUN, title="云县 road flooding"),
        report(cast, title="山体滑坡 landslide", category="geological_hazard", severity=3),
        report(cast, title="桥下积水", reporter_name="李四"),
        report(cast, at=YUN, title="爱华镇积水", reporter_phone="13700000007"),
        report(cast, title="学校门口积水"),
    ]
    start = timezone.now() - timedelta(hours=1)
    for minute, result in enumerate(made):
        Incident.objects.filter(pk=result.incident.id).update(reported_at=start + timedelta(minutes=minute))
    return [result.incident.id for result in made]


def test_text_search_finds_words_in_title_address_description_and_caller_in_any_case(cast, history):
    dispatcher = client_for(cast.dispatcher)
    assert ids(get(dispatcher, "/incidents", q="滇红路")) == [history[0]]
    assert ids(get(dispatcher, "/incidents", q="market")) == [history[1]]
    assert ids(get(dispatcher, "/incidents", q="李四")) == [history[4]]
    assert ids(get(dispatcher, "/incidents", q="1370000")) == [history[5]]
    assert ids(get(dispatcher, "/incidents", q="FLOODING")) == [history[2], history[1]]
    assert ids(get(dispatcher, "/incidents", q="road flooding")) == [history[2]]  # every word must match
    assert ids(get(dispatcher, "/incidents", q="  ")) == list(reversed(history))  # blank: no text filter


def test_county_keeps_incidents_whose_point_lies_in_it_and_combines_with_other_filters(cast, history):
    dispatcher = client_for(cast.dispatcher)
    assert ids(get(dispatcher, "/incidents", county="530922")) == [history[5], history[2]]
    assert ids(get(dispatcher, "/incidents", county="530921", q="积水")) == [history[6], history[4], history[0]]
    assert ids(get(dispatcher, "/incidents", county="530921", category="geological_hazard")) == [history[3]]
    assert ids(get(dispatcher, "/incidents", county="530921", severity="3")) == [history[3]]
    body = get(dispatcher, "/incidents", county="999999", expect=400)
    assert list(body["errors"]) == ["county"]


def test_existing_filters_keep_working_with_search(cast, history):
    dispatcher = client_for(cast.dispatcher)
    incidents = Incident.objects.in_bulk(history)
    middle = incidents[history[3]].reported_at
    after = get(dispatcher, "/incidents", reported_after=middle.isoformat(), q="积水")
    assert ids(after) == [history[6], history[5], history[4]]
    before = get(dispatcher, "/incidents", reported_before=middle.isoformat(), status="dispatched,triage")
    assert ids(before) == [history[2], history[1], history[0]]


def test_keyset_pages_walk_the_whole_history_newest_first_without_gaps_or_repeats(cast, history):
    dispatcher = client_for(cast.dispatcher)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"before": cursor} if cursor else {})}
        body = get(dispatcher, "/incidents", **params)
        seen += ids(body)
        pages += 1
        assert body["truncated"] == (body["next"] is not None)
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == list(reversed(history)) and pages == 3
    assert "count" not in body


def test_paging_holds_for_incidents_reported_at_the_same_moment(cast, history):
    Incident.objects.filter(pk__in=history).update(reported_at=timezone.now() - timedelta(minutes=5))
    dispatcher = client_for(cast.dispatcher)
    first = get(dispatcher, "/incidents", limit=4)
    second = get(dispatcher, "/incidents", limit=4, before=first["next"])
    assert ids(first) + ids(second) == sorted(history, reverse=True)
    assert second["next"] is None


def test_count_is_given_only_when_asked_and_counts_every_page(cast, history):
    dispatcher = client_for(cast.dispatcher)
    body = get(dispatcher, "/incidents", limit=2, q="积水", count="true")
    assert body["count"] == 4 and len(body["features"]) == 2
    body = get(dispatcher, "/incidents", limit=2, q="积水", count="true", before=body["next"])
    assert body["count"] == 4 and len(body["features"]) == 2 and body["next"] is None


@pytest.mark.parametrize("cursor", ["garbage", "WzEsMl0", "eyJhIjoxfQ", "!!!"])
def test_a_cursor_the_list_never_gave_out_is_refused_naming_before(cast, history, cursor):
    body = get(client_for(cast.dispatcher), "/incidents", before=cursor, expect=400)
    assert list(body["errors"]) == ["before"]


def test_an_operator_searches_only_their_subcenters_incidents(cast, history):
    water = client_for(cast.water_op)  # 凤庆县's water sub-center: flood tickets of 530921
    assert ids(get(water, "/incidents", q="积水")) == [history[6], history[4], history[0]]
    assert ids(get(water, "/incidents", county="530922")) == []


# ---- the timeline ---------------------------------------------------------------------


@pytest.fixture
def worked(cast, terminals_online):
    """A flood in 凤庆县 (level II: water, civil affairs, health, civil air defence), worked on by water and health."""
    result = report(cast, severity=2, title="城区内涝")
    tickets = {t.subcenter.kind_id: t for t in result.tickets}
    water, health = tickets["water"], tickets["health"]
    services.ticket_deliver(actor=cast.water_op, ticket_id=water.id)
    services.ticket_accept(actor=cast.water_op, ticket_id=water.id)
    services.ticket_check(actor=cast.water_op, ticket_id=water.id, item=0, done=True)
    services.ticket_feedback(actor=cast.water_op, ticket_id=water.id, text="泵车已到")
    services.ticket_reject(actor=cast.health_op, ticket_id=health.id, reason="非本单位职责")
    services.ticket_cancel(actor=cast.dispatcher, ticket_id=tickets["civil_affairs"].id, reason="派错")
    return result.incident, water, health


@pytest.mark.django_db(transaction=True)  # events are numbered when they commit
def test_timeline_says_who_did_what_when_for_each_ticket_in_seq_order(cast, worked):
    incident, water, health = worked
    body = get(client_for(cast.dispatcher), f"/incidents/{incident.id}/timeline")
    assert body["incident"]["id"] == incident.id
    entries = body["entries"]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(entries) == Event.objects.filter(incident=incident).count()
    assert entries[0]["name"] == "incident.reported" and entries[0]["ticket_id"] is None
    assert entries[0]["subcenter"] is None and entries[0]["actor"] == "t-dispatcher"
    by_name = {}
    for entry in entries:
        by_name.setdefault(entry["name"], []).append(entry)
    (checked,) = by_name["ticket.checked"]
    assert checked["actor"] == "t-water" and checked["ticket_id"] == water.id
    assert checked["subcenter"] == {"code": "530921-water", "name": water.subcenter.name,
                                    "name_en": water.subcenter.name_en}
    assert checked["summary"]["item"] == 0 and checked["summary"]["done"] is True
    assert checked["summary"]["item_text"] == water.checklist[0]
    (note,) = by_name["ticket.feedback"]
    assert note["summary"]["text"] == "泵车已到" and note["summary"]["final"] is False
    (rejected,) = by_name["ticket.rejected"]
    assert rejected["summary"] == {"reason": "非本单位职责", "status": "rejected"}
    assert rejected["actor"] == "t-health" and rejected["subcenter"]["code"] == "530921-health"
    assert by_name["ticket.cancelled"][0]["summary"]["reason"] == "派错"
    assert all(e["at"] for e in entries)


@pytest.mark.django_db(transaction=True)  # events are numbered when they commit
def test_an_operator_sees_only_the_events_of_their_own_subcenters_tickets(cast, worked):
    incident, water, health = worked
    entries = get(client_for(cast.water_op), f"/incidents/{incident.id}/timeline")["entries"]
    assert entries and {e["ticket_id"] for e in entries} - {None} == {water.id}
    assert not [e for e in entries if e["subcenter"] and e["subcenter"]["code"] != "530921-water"]
    assert "ticket.rejected" not in {e["name"] for e in entries}


@pytest.mark.django_db(transaction=True)  # events are numbered when they commit
def test_timeline_of_an_incident_out_of_scope_or_missing_is_404(cast, worked, terminals_online):
    elsewhere = report(cast, at=YUN).incident
    get(client_for(cast.water_op), f"/incidents/{elsewhere.id}/timeline", expect=404)
    get(client_for(cast.dispatcher), "/incidents/999999/timeline", expect=404)


@pytest.mark.django_db(transaction=True)  # events are numbered when they commit
def test_the_printable_timeline_is_server_rendered_text_with_print_css_and_no_script(cast, worked, client):
    incident, water, health = worked
    client.force_login(cast.dispatcher)
    response = client.get(f"/incidents/{incident.id}/timeline", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "城区内涝" in page and "泵车已到" in page and "非本单位职责" in page and "t-water" in page
    assert "frontend/css/print.css" in page and 'media="print"' in page
    assert "<script" not in page
    assert page.count('class="entry"') == Event.objects.filter(incident=incident).count()
    assert "Checklist item ticked or unticked" in page and "reason: 非本单位职责" in page
    chinese = client.get(f"/incidents/{incident.id}/timeline", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "时间线" in chinese and "处置清单勾选" in chinese and "原因：非本单位职责" in chinese


@pytest.mark.django_db(transaction=True)  # events are numbered when they commit
def test_the_printable_timeline_keeps_the_operators_scope_and_asks_visitors_to_log_in(cast, worked, client):
    incident, water, health = worked
    response = client.get(f"/incidents/{incident.id}/timeline")
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(cast.health_op)
    page = client.get(f"/incidents/{incident.id}/timeline").content.decode()
    assert "非本单位职责" in page and "泵车已到" not in page
    elsewhere = report(cast, at=YUN).incident
    assert client.get(f"/incidents/{elsewhere.id}/timeline").status_code == 404
