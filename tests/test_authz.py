"""Who may call what: every role against every endpoint, allowed and refused.

The scene is a level III flood in 凤庆县: one ticket, for 530921-water. `operator` is that
sub-center's operator; `other_operator` belongs to 530921-health and must find nothing
(404), never a hint that the incident or the ticket exists.
"""

import pytest
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Ticket
from geo.models import SubCenter
from tests.conftest import password_of

pytestmark = pytest.mark.django_db

API = "/api/v1"
FENGQING = (99.95, 24.6)
PRINCIPALS = ["dispatcher", "operator", "other_operator", "leader", "admin", "no_role", "anonymous"]
OPERATOR_ACTION_STATUS = {"operator": 200, "other_operator": 404}
COMMAND_ACTION_STATUS = {"dispatcher": 200, "admin": 200}
READ_ALL = {"dispatcher": 200, "operator": 200, "other_operator": 200, "leader": 200, "admin": 200}
READ_SCOPED = {"dispatcher": 200, "operator": 200, "other_operator": 404, "leader": 200, "admin": 200}
READ_COMMAND_CENTER = {"dispatcher": 200, "leader": 200, "admin": 200}
REPORT = {
    "category": "flood", "severity": 3, "title": "Street flooding",
    "location": {"type": "Point", "coordinates": list(FENGQING)},
}


def deliver(scene):
    services.ticket_deliver(actor=scene.operator, ticket_id=scene.ticket_id)


def accept(scene):
    deliver(scene)
    services.ticket_accept(actor=scene.operator, ticket_id=scene.ticket_id)


def resolve(scene):
    accept(scene)
    services.ticket_confirm(actor=scene.dispatcher, ticket_id=scene.ticket_id)
    services.ticket_feedback(actor=scene.operator, ticket_id=scene.ticket_id, text="done", final=True)


# name: (method, path, body, prepare the scene so the allowed caller succeeds, {principal: status})
# A principal left out of the mapping is refused: 401 without credentials, else 403.
ENDPOINTS = {
    "list incidents": ("get", "/incidents", None, None, READ_ALL),
    "read incident": ("get", "/incidents/{incident}", None, None, READ_SCOPED),
    "nearby": ("get", "/incidents/{incident}/nearby?layer=county_seats", None, None, READ_SCOPED),
    "report incident": ("post", "/incidents", REPORT, None, {"dispatcher": 201, "admin": 201}),
    "assign": ("post", "/incidents/{incident}/assign", {"subcenter": "530921-fire"}, None,
               {"dispatcher": 201, "admin": 201}),
    "close incident": ("post", "/incidents/{incident}/close", {"outcome": "处置完毕"}, None, {"dispatcher": 409, "admin": 409}),
    "categories": ("get", "/categories", None, None, READ_ALL),
    "list tickets": ("get", "/tickets", None, None, READ_ALL),
    "read ticket": ("get", "/tickets/{ticket}", None, None, READ_SCOPED),
    "deliver": ("post", "/tickets/{ticket}/deliver", {}, None, OPERATOR_ACTION_STATUS),
    "accept": ("post", "/tickets/{ticket}/accept", {}, deliver, OPERATOR_ACTION_STATUS),
    "reject": ("post", "/tickets/{ticket}/reject", {"reason": "not ours"}, None, OPERATOR_ACTION_STATUS),
    "feedback": ("post", "/tickets/{ticket}/feedback", {"text": "on scene"}, accept,
                 {"operator": 201, "other_operator": 404}),
    "confirm": ("post", "/tickets/{ticket}/confirm", {}, accept, COMMAND_ACTION_STATUS),
    "close ticket": ("post", "/tickets/{ticket}/close", {}, resolve, COMMAND_ACTION_STATUS),
    "reopen": ("post", "/tickets/{ticket}/reopen", {"reason": "not finished"}, resolve, COMMAND_ACTION_STATUS),
    "cancel": ("post", "/tickets/{ticket}/cancel", {"reason": "false alarm"}, None, COMMAND_ACTION_STATUS),
    "route": ("get", "/route?lon=99.95&lat=24.6&category=flood&severity=2", None, None, READ_COMMAND_CENTER),
    "dashboard": ("get", "/dashboard", None, None, READ_COMMAND_CENTER),
    "subcenters": ("get", "/subcenters", None, None, READ_COMMAND_CENTER),
}

MATRIX = [
    pytest.param(name, principal, allowed.get(principal, 401 if principal == "anonymous" else 403), id=f"{name}-{principal}")
    for name, (_, _, _, _, allowed) in ENDPOINTS.items()
    for principal in PRINCIPALS
]


@pytest.fixture
def scene(cast, django_user_model):
    """The flood, its one ticket, and a client for each principal; 530921-water's terminal is live."""
    water = SubCenter.objects.get(code="530921-water")
    services.terminal_connect(channel_name="test!530921-water", user=cast.water_op, subcenter_id=water.id)
    incident = services.incident_report(
        actor=cast.dispatcher, category="flood", severity=3, lon=FENGQING[0], lat=FENGQING[1], title="Flooding"
    ).incident
    (ticket,) = incident.tickets.all()
    assert ticket.subcenter.code == "530921-water" and not ticket.overdue
    users = {
        "dispatcher": cast.dispatcher, "operator": cast.water_op, "other_operator": cast.health_op,
        "leader": cast.leader, "admin": cast.admin, "no_role": django_user_model.objects.create_user("t-nobody"),
        "anonymous": None,
    }
    return type("Scene", (), {
        "incident_id": incident.id, "ticket_id": ticket.id, "users": users,
        "dispatcher": cast.dispatcher, "operator": cast.water_op,
    })


def call(scene, principal, method, path, body):
    client = APIClient()
    if scene.users[principal] is not None:
        client.force_authenticate(scene.users[principal])
    url = API + path.format(incident=scene.incident_id, ticket=scene.ticket_id)
    return client.get(url) if method == "get" else client.post(url, body, format="json")


@pytest.mark.parametrize(("name", "principal", "expected"), MATRIX)
def test_authorization_matrix(scene, name, principal, expected):
    method, path, body, prepare, _ = ENDPOINTS[name]
    if prepare:
        prepare(scene)
    status_before = Ticket.objects.get(pk=scene.ticket_id).status
    response = call(scene, principal, method, path, body)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert isinstance(response.json()["errors"], dict)
        if expected != 409:
            assert Ticket.objects.get(pk=scene.ticket_id).status == status_before


def test_operator_of_another_subcenter_sees_none_of_it(scene):
    other = APIClient()
    other.force_authenticate(scene.users["other_operator"])
    incidents = other.get(f"{API}/incidents").json()
    assert scene.incident_id not in [f["id"] for f in incidents["features"]]
    assert other.get(f"{API}/tickets", {"incident": scene.incident_id}).json()["tickets"] == []
    missing_ticket = other.get(f"{API}/tickets/999999")
    foreign_ticket = other.get(f"{API}/tickets/{scene.ticket_id}")
    assert (foreign_ticket.status_code, foreign_ticket.json()["errors"].keys()) == (
        missing_ticket.status_code, missing_ticket.json()["errors"].keys()
    )


def test_operator_cannot_accept_other_subcenters_ticket(scene):
    deliver(scene)
    other = APIClient()
    other.force_authenticate(scene.users["other_operator"])
    assert other.post(f"{API}/tickets/{scene.ticket_id}/accept", {}, format="json").status_code == 404
    assert Ticket.objects.get(pk=scene.ticket_id).accepted_by is None


def test_leader_is_read_only_even_with_a_valid_body(scene):
    leader = APIClient()
    leader.force_authenticate(scene.users["leader"])
    response = leader.post(f"{API}/incidents", REPORT, format="json")
    assert response.status_code == 403 and list(response.json()["errors"]) == ["detail"]


def test_a_bad_token_is_refused_in_the_error_format(scene):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    response = client.get(f"{API}/incidents")
    assert response.status_code == 401 and list(response.json()["errors"]) == ["detail"]


def test_anyone_may_ask_for_a_token_but_only_with_the_password(scene):
    response = APIClient().post(f"{API}/auth/token", {"username": "t-leader", "password": password_of("t-leader")}, format="json")
    assert response.status_code == 200
    leader = APIClient()
    leader.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert leader.get(f"{API}/dashboard").status_code == 200
    assert leader.post(f"{API}/incidents", REPORT, format="json").status_code == 403
