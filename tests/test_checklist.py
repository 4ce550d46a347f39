"""Checklist ticks (处置清单) as events: POST /tickets/{id}/check and the stream's `check` action."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from api.tokens import token_issue
from config.asgi import application
from dispatch import services
from dispatch.models import Event, EventHead, Ticket
from dispatch.selectors.stream import events_after, snapshot, snapshot_apply, snapshot_state

API = "/api/v1"
FENGQING = (99.95, 24.6)  # 凤庆县: its water sub-center is 530921-water


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def water_ticket(cast):
    """Report a level IV flood in 凤庆县: one water ticket, with the plan's checklist."""
    report = services.incident_report(
        actor=cast.dispatcher, category="flood", severity=4, lon=FENGQING[0], lat=FENGQING[1], title="城区积水"
    )
    (ticket,) = report.tickets
    assert len(ticket.checklist) >= 2, "the flood plan has a checklist"
    return ticket


def check(client, ticket_id, item, done, expect=200):
    response = client.post(f"{API}/tickets/{ticket_id}/check", {"item": item, "done": done}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def checked_events(ticket_id):
    return list(Event.objects.filter(ticket_id=ticket_id, name="ticket.checked").order_by("id"))


@pytest.mark.django_db
def test_operator_ticks_and_unticks_items_over_rest_and_each_change_is_an_event(cast, terminals_online):
    ticket = water_ticket(cast)
    water = client_for(cast.water_op)
    body = check(water, ticket.id, 1, True)
    assert body["changed"] is True and body["ticket"]["checklist_done"] == [1]
    assert body["seq"] == EventHead.objects.get(pk=1).seq
    body = check(water, ticket.id, 0, True)
    assert body["ticket"]["checklist_done"] == [0, 1]
    body = check(water, ticket.id, 1, False)
    assert body["ticket"]["checklist_done"] == [0]
    assert Ticket.objects.get(pk=ticket.id).checklist_done == [0]
    events = checked_events(ticket.id)
    assert [(e.payload["item"], e.payload["done"]) for e in events] == [(1, True), (0, True), (1, False)]
    assert events[-1].payload["ticket"]["checklist_done"] == [0]
    assert events[-1].actor_id == cast.water_op.id and events[-1].audience == [ticket.subcenter_id]


@pytest.mark.django_db
def test_ticking_a_ticked_item_again_changes_nothing_and_sends_no_event(cast, terminals_online):
    ticket = water_ticket(cast)
    water = client_for(cast.water_op)
    check(water, ticket.id, 0, True)
    body = check(water, ticket.id, 0, True)
    assert body["changed"] is False and body["ticket"]["checklist_done"] == [0]
    body = check(water, ticket.id, 1, False)
    assert body["changed"] is False
    assert len(checked_events(ticket.id)) == 1


@pytest.mark.django_db
def test_an_item_outside_the_checklist_is_refused_naming_the_item(cast, terminals_online):
    ticket = water_ticket(cast)
    water = client_for(cast.water_op)
    body = check(water, ticket.id, len(ticket.checklist), True, expect=400)
    assert list(body["errors"]) == ["item"]
    body = check(water, ticket.id, -1, True, expect=400)
    assert list(body["errors"]) == ["item"]
    response = water.post(f"{API}/tickets/{ticket.id}/check", {"item": 0, "done": True, "x": 1}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["x"]
    assert not checked_events(ticket.id)


@pytest.mark.django_db
def test_another_subcenters_operator_gets_404_and_the_command_center_403(cast, terminals_online):
    ticket = water_ticket(cast)
    check(client_for(cast.health_op), ticket.id, 0, True, expect=404)
    check(client_for(cast.dispatcher), ticket.id, 0, True, expect=403)
    check(client_for(cast.leader), ticket.id, 0, True, expect=403)
    assert not checked_events(ticket.id)


@pytest.mark.django_db
def test_a_ticket_no_longer_open_cannot_be_ticked(cast, terminals_online):
    ticket = water_ticket(cast)
    services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket.id, reason="派错")
    body = check(client_for(cast.water_op), ticket.id, 0, True, expect=409)
    assert body["status"] == "cancelled" and list(body["errors"]) == ["status"]
    assert not checked_events(ticket.id)


@pytest.mark.django_db(transaction=True)
def test_a_tick_applied_to_the_snapshot_gives_the_fresh_snapshot(cast, terminals_online):
    ticket = water_ticket(cast)
    scope = cast.water_op.operator_post.subcenter_id
    for who in (None, scope):
        state = snapshot_state(*snapshot(who))
        services.ticket_check(actor=cast.water_op, ticket_id=ticket.id, item=0, done=who is None)
        for event in events_after(who, state["seq"]):
            snapshot_apply(state, event)
        fresh = snapshot_state(*snapshot(who))
        assert state["tickets"] == fresh["tickets"]
        assert state["tickets"][ticket.id]["checklist_done"] == ([0] if who is None else [])


@pytest.mark.django_db(transaction=True)
def test_the_stream_check_action_ticks_answers_a_result_and_sends_the_event(cast, terminals_online, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    ticket = water_ticket(cast)
    water_token = token_issue(user=cast.water_op)[1]
    health_token = token_issue(user=cast.health_op)[1]

    def communicator(token):
        headers = [(b"host", b"testserver"), (b"authorization", f"Token {token}".encode())]
        return WebsocketCommunicator(application, "/ws/v1/stream", headers=headers)

    async def frames_until(ws, predicate):
        seen = []
        for _ in range(50):
            frame = json.loads(await ws.receive_from(timeout=5))
            seen.append(frame)
            if predicate(frame):
                return seen
        raise AssertionError(seen)

    async def scenario():
        ws = communicator(water_token)
        assert (await ws.connect())[0]
        await frames_until(ws, lambda f: f["type"] == "snapshot")
        await ws.send_json_to({"type": "check", "ticket": ticket.id, "item": 1, "done": True, "ref": "c1"})
        seen = await frames_until(ws, lambda f: f["type"] == "event" and f["name"] == "ticket.checked")
        seen += await frames_until(ws, lambda f: f["type"] == "result") if not any(
            f["type"] == "result" for f in seen) else []
        (result,) = [f for f in seen if f["type"] == "result"]
        (event,) = [f for f in seen if f["type"] == "event" and f["name"] == "ticket.checked"]
        assert result["ok"] is True and result["ref"] == "c1" and result["changed"] is True
        assert event["payload"]["item"] == 1 and event["payload"]["done"] is True
        assert event["payload"]["ticket"]["checklist_done"] == [1]
        await ws.send_json_to({"type": "check", "ticket": ticket.id, "item": "1", "done": True})
        error = json.loads(await ws.receive_from(timeout=5))
        assert error["type"] == "error" and error["field"] == "item"
        await ws.disconnect()
        other = communicator(health_token)
        assert (await other.connect())[0]
        await frames_until(other, lambda f: f["type"] == "snapshot")
        await other.send_json_to({"type": "check", "ticket": ticket.id, "item": 0, "done": True, "ref": "c2"})
        refused = await frames_until(other, lambda f: f["type"] == "result")
        assert refused[-1]["ok"] is False and list(refused[-1]["errors"]) == ["ticket"]
        await other.disconnect()

    async_to_sync(scenario)()
    assert Ticket.objects.get(pk=ticket.id).checklist_done == [1]
