"""Issue 13's reads: the route preview's terminals and missing kinds, sub-centers near a point, timeliness with
open tickets' age, API messages in the language of Accept-Language, the favicon."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import selectors, services
from dispatch.models import Ticket
from geo.models import SubCenter
from tests.conftest import password_of

pytestmark = pytest.mark.django_db

API = "/api/v1"
FENGQING = (99.95, 24.6)  # inside 凤庆县 (530921)
YUN = (100.13, 24.44)  # inside 云县 (530922)
BEIJING = (116.4, 39.9)  # outside every jurisdiction


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def get(client, path, expect=200, headers=None, **params):
    response = client.get(f"{API}{path}", params, headers=headers)
    assert response.status_code == expect, response.content
    return response.json()


# ---- route preview ----------------------------------------------------------------------


def test_13_8_route_preview_shows_each_receivers_terminal_and_names_the_missing_kinds(cast, django_user_model):
    water = SubCenter.objects.get(code="530921-water")
    user = django_user_model.objects.create_user("t-terminal-water")
    services.terminal_connect(channel_name="test!water", user=user, subcenter_id=water.id)
    services.terminal_heartbeat(channel_name="test!water", audio_armed=True, page_visible=True)
    answer = get(client_for(cast.dispatcher), "/route", lon=FENGQING[0], lat=FENGQING[1], kinds="water,fire")
    rows = {row["kind"]: row for row in answer["routes"]}
    assert rows["water"]["terminal"] == {"online": 1, "audio_armed": True}
    assert rows["fire"]["terminal"] == {"online": 0, "audio_armed": False}
    assert rows["water"]["subcenter_name_en"] == water.name_en
    assert answer["missing_kinds"] == []
    nowhere = get(client_for(cast.dispatcher), "/route", lon=BEIJING[0], lat=BEIJING[1], kinds="fire,water")
    assert [k["code"] for k in nowhere["missing_kinds"]] == ["fire", "water"]
    assert all(k["name"] and k["name_en"] for k in nowhere["missing_kinds"])
    assert "terminal" not in nowhere["routes"][0]


# ---- sub-centers by kind, nearest first -------------------------------------------------------


def test_13_8_subcenters_of_a_kind_near_a_point_come_nearest_first_with_their_distance(cast):
    near = f"{FENGQING[0]},{FENGQING[1]}"
    rows = get(client_for(cast.dispatcher), "/subcenters", kind="water", near=near)["subcenters"]
    assert {row["kind"] for row in rows} == {"water"}
    assert rows[0]["code"] == "530921-water" and rows[0]["distance_m"] == 0
    measured = [row["distance_m"] for row in rows if row["distance_m"] is not None]
    assert measured == sorted(measured) and measured[-1] > 10_000
    assert all(row["distance_m"] is None for row in rows[len(measured):])  # no jurisdiction: last
    assert rows[0]["name_en"] is not None and "kind_name_en" in rows[0]


def test_subcenters_without_near_are_by_code_without_distance_and_a_bad_query_is_named(cast):
    dispatcher = client_for(cast.dispatcher)
    rows = get(dispatcher, "/subcenters", kind="fire")["subcenters"]
    assert [row["code"] for row in rows] == sorted(row["code"] for row in rows)
    assert "distance_m" not in rows[0]
    assert list(get(dispatcher, "/subcenters", expect=400, kind="unicorns")["errors"]) == ["kind"]
    for near in ("99.9", "a,b", "200,10", "nan,1"):
        assert list(get(dispatcher, "/subcenters", expect=400, near=near)["errors"]) == ["near"]


# ---- timeliness ---------------------------------------------------------------------------


def flood(cast, at=FENGQING, severity=4):
    return services.incident_report(actor=cast.dispatcher, category="flood", severity=severity, lon=at[0],
                                    lat=at[1], title="积水").tickets


def issued_ago(tickets, seconds):
    Ticket.objects.filter(pk__in=[t.id for t in tickets]).update(
        issued_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_13_9_a_subcenter_that_never_delivered_shows_its_age_so_far_and_is_named_slowest(cast, terminals_online):
    never = [t for _ in range(3) for t in flood(cast)]  # 凤庆县 water, never delivered
    issued_ago(never, 600)
    quick = [t for _ in range(3) for t in flood(cast, at=YUN)]  # 云县 water, delivered at once
    Ticket.objects.filter(pk__in=[t.id for t in quick]).update(status="delivered", delivered_at=timezone.now())
    start, end = selectors.last_hours_window(24)
    figures = selectors.dashboard_timeliness(start=start, end=end)
    rows = {row["code"]: row for row in figures["subcenters"]}
    delivered = rows["530921-water"]["seconds"]["delivered"]
    assert delivered["n"] == 3 and delivered["waiting"] == 3 and 590 <= delivered["p90"] <= 700
    assert rows["530922-water"]["seconds"]["delivered"]["waiting"] == 0
    assert figures["slowest"]["delivered"]["code"] == "530921-water"
    assert figures["slowest"]["delivered"]["n"] == 3


def test_13_9_slowest_needs_enough_tickets_and_a_p90_above_zero(cast, terminals_online, settings):
    one = flood(cast)
    issued_ago(one, 900)  # only one ticket: no pattern
    instant = [t for _ in range(3) for t in flood(cast, at=YUN)]
    Ticket.objects.filter(pk__in=[t.id for t in instant]).update(delivered_at=timezone.now())
    Ticket.objects.filter(pk__in=[t.id for t in instant]).update(issued_at=timezone.now())  # 0 s: nobody's fault
    start, end = selectors.last_hours_window(24)
    figures = selectors.dashboard_timeliness(start=start, end=end)
    assert figures["slowest"]["delivered"] is None
    assert {row["code"] for row in figures["subcenters"]} == {"530921-water", "530922-water"}
    settings.SLOWEST_MIN_TICKETS = 1
    figures = selectors.dashboard_timeliness(start=start, end=end)
    assert figures["slowest"]["delivered"]["code"] == "530921-water"


def test_a_cancelled_ticket_is_not_counted_at_stages_it_never_reached(cast, terminals_online):
    (ticket,) = flood(cast)
    services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket.id, reason="派错")
    start, end = selectors.last_hours_window(24)
    (row,) = selectors.dashboard_timeliness(start=start, end=end)["subcenters"]
    assert row["tickets"] == 1 and row["seconds"]["delivered"] == {"p50": None, "p90": None, "n": 0, "waiting": 0}


def test_the_bulletin_names_the_slowest_subcenter_from_the_same_figures(cast, terminals_online, client):
    never = [t for _ in range(3) for t in flood(cast)]
    issued_ago(never, 600)
    client.force_login(cast.leader)
    page = client.get("/dashboard/bulletin/").content.decode()
    water = SubCenter.objects.get(code="530921-water")
    assert page.count(water.name) >= 2  # its timeliness row, and named slowest to delivery
    api = get(client_for(cast.leader), "/dashboard/figures")
    assert api["slowest"]["delivered"]["code"] == "530921-water"


# ---- the API's language -------------------------------------------------------------------


def bad_requests(cast):
    """The same bad requests on several endpoints: (name, client, method, path, body or params, field)."""
    return [
        ("incidents", client_for(cast.dispatcher), "get", "/incidents", {"severity": "9"}, "severity"),
        ("incidents", client_for(cast.dispatcher), "get", "/incidents", {"county": "nowhere"}, "county"),
        ("tickets", client_for(cast.water_op), "post", "/tickets/999999/accept", {}, "ticket"),
        ("tickets", client_for(cast.water_op), "post", "/tickets/999999/check", {"item": 0, "done": True}, "ticket"),
        ("route", client_for(cast.dispatcher), "get", "/route", {"lon": 99.9, "lat": 24.6}, "category"),
        ("auth/token", APIClient(), "post", "/auth/token", {"username": "t-dispatcher", "password": "wrong"}, "detail"),
    ]


EXPECTED = {
    ("incidents", "severity"): ("unknown value(s)", "未知取值"),
    ("incidents", "county"): ("no county with the code", "没有代码为"),
    ("tickets", "ticket"): ("no ticket 999999", "没有处警单 999999"),
    ("route", "category"): ("give category and severity, or kinds", "请提供 category 和 severity"),
    ("auth/token", "detail"): ("wrong username or password", "用户名或密码错误"),
}


def send(client, method, path, data, headers):
    if method == "get":
        return client.get(f"{API}{path}", data, headers=headers)
    return client.post(f"{API}{path}", data, format="json", headers=headers)


@pytest.mark.parametrize("case", range(6))
def test_13_10_the_same_bad_request_answers_in_the_language_of_accept_language(cast, case):
    name, client, method, path, data, field = bad_requests(cast)[case]
    english, chinese = EXPECTED[(name, field)]
    variants = [("en", english, "en"), ("zh-Hans", chinese, "zh-hans"), (None, chinese, "zh-hans"),
                ("en-US,en;q=0.9", english, "en"), ("zh-CN,zh;q=0.9", chinese, "zh-hans"), ("fr", chinese, "zh-hans")]
    if name == "auth/token":
        variants = variants[:3]  # each is a failed login: stay below the lockout's limit
    for header, expected, language in variants:
        headers = {"Accept-Language": header} if header else {}
        response = send(client, method, path, data, headers)
        assert response.status_code in (400, 404), response.content
        message = response.json()["errors"][field][0]
        assert expected in message, (header, message)
        assert response["Content-Language"] == language


def test_a_browsers_chosen_page_language_does_not_decide_the_apis(cast, client):
    client.force_login(cast.dispatcher)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    body = client.get(f"{API}/incidents", {"severity": "9"}, headers={"Accept-Language": "zh-Hans"}).json()
    assert "未知取值" in body["errors"]["severity"][0]
    body = client.get(f"{API}/incidents", {"severity": "9"}).json()
    assert "未知取值" in body["errors"]["severity"][0]  # no header: zh-hans, not the cookie
    body = client.get(f"{API}/incidents", {"severity": "9"}, headers={"Accept-Language": "en"}).json()
    assert "unknown value(s)" in body["errors"]["severity"][0]
    page = client.get("/console/", headers={"Accept-Language": "zh-Hans"})
    assert page["Content-Language"] == "en"  # the pages still follow the browser's choice


def test_drf_field_messages_follow_accept_language_too(cast):
    dispatcher = client_for(cast.dispatcher)
    english = dispatcher.post(f"{API}/incidents", {}, format="json", headers={"Accept-Language": "en"}).json()
    chinese = dispatcher.post(f"{API}/incidents", {}, format="json", headers={"Accept-Language": "zh-Hans"}).json()
    assert english["errors"]["title"] == ["This field is required."]
    assert chinese["errors"]["title"] != english["errors"]["title"]


def test_token_login_still_works_in_either_language(cast):
    for language in ("en", "zh-Hans"):
        response = APIClient().post(
            f"{API}/auth/token", {"username": "t-dispatcher", "password": password_of("t-dispatcher")},
            format="json", headers={"Accept-Language": language},
        )
        assert response.status_code == 200 and response.json()["token"]


# ---- the favicon ---------------------------------------------------------------------------


def test_13_12_favicon_ico_answers_the_projects_icon_and_pages_link_it(cast, client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"<svg") and b"GeoDispatch" in body
    assert "max-age" in response["Cache-Control"]
    login = client.get("/login/").content.decode()
    assert 'rel="icon"' in login and "frontend/favicon.svg" in login
    assert client.post("/favicon.ico").status_code == 405
