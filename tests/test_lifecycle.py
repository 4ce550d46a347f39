"""The ticket lifecycle through the services: every allowed transition, every forbidden one."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import translation

from dispatch import services
from dispatch.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.events import events_append, verify_chain
from dispatch.lifecycle import TRANSITIONS
from dispatch.models import Event, Incident, IncidentStatus, Notice, Terminal, Ticket, TicketStatus
from dispatch.notifiers import outbox
from geo.models import SubCenter

FENGQING = (99.95, 24.6)  # inside 凤庆县 (530921)
EAST_CHINA_SEA = (123.0, 27.0)


pytestmark = pytest.mark.usefixtures("terminals_online")


@pytest.fixture(autouse=True)
def in_english():
    """Read the services' messages in English: outside a request they speak the active language (zh-hans by default)."""
    with translation.override("en"):
        yield


def report(cast, *, point=FENGQING, category="flood", severity=2, **extra):
    incident = services.incident_report(
        actor=cast.dispatcher, category=category, severity=severity, lon=point[0], lat=point[1],
        title="积水 waterlogging", **extra,
    ).incident
    return incident


def water_ticket(incident):
    return incident.tickets.get(subcenter__code="530921-water")


def names(incident):
    return list(Event.objects.filter(incident=incident).order_by("seq", "id").values_list("name", flat=True))


@pytest.mark.django_db
def test_ticket_for_a_subcenter_without_a_live_terminal_pages_its_duty_phone_at_once(cast, settings):
    settings.NOTIFIER_BACKEND = "dispatch.notifiers.MemoryNotifier"
    outbox.clear()
    SubCenter.objects.filter(code="530921-water").update(duty_phone="0883-0000000")
    Terminal.objects.filter(subcenter__code="530921-water").delete()
    incident = report(cast, severity=4)
    ticket = water_ticket(incident)
    assert (ticket.escalation_level, ticket.overdue) == (3, True)
    assert names(incident) == ["incident.reported", "ticket.issued", "ticket.overdue"]
    # The page is a row of the report's own transaction, due at once; the next worker pass sends it.
    assert list(Notice.objects.values_list("recipient", "level", "ticket", "status")) == [
        ("0883-0000000", 3, ticket.id, "pending")
    ]
    assert services.notices_send_due() == 1
    assert [(n.to, n.level, n.ticket) for n, _ in outbox] == [("0883-0000000", 3, ticket.id)]


@pytest.mark.django_db
def test_level_two_flood_in_fengqing_issues_tickets_to_exactly_the_plan_kinds(cast):
    incident = report(cast)
    codes = sorted(incident.tickets.values_list("subcenter__code", flat=True))
    assert codes == ["530921-civil_affairs", "530921-civil_air_defense", "530921-health", "530921-water"]
    assert incident.status == IncidentStatus.DISPATCHED
    assert all(t.routing["rule"] == "covered" and t.routing["jurisdiction_code"] == "530921" for t in incident.tickets.all())
    assert names(incident) == ["incident.reported"] + ["ticket.issued"] * 4


@pytest.mark.django_db
def test_level_four_flood_dispatches_water_only(cast):
    incident = report(cast, severity=4)
    assert list(incident.tickets.values_list("subcenter__code", flat=True)) == ["530921-water"]


@pytest.mark.django_db
def test_point_outside_lincang_goes_to_triage_and_can_be_assigned_by_hand(cast):
    incident = report(cast, point=EAST_CHINA_SEA)
    assert incident.status == IncidentStatus.TRIAGE
    assert not incident.tickets.exists()
    assert sorted(incident.unassigned_kinds) == ["civil_affairs", "civil_air_defense", "health", "water"]
    assert "incident.triage" in names(incident)
    ticket = services.incident_assign(actor=cast.dispatcher, incident_id=incident.id, subcenter_code="530921-water")
    incident.refresh_from_db()
    assert ticket.routing["rule"] == "manual"
    assert incident.status == IncidentStatus.DISPATCHED
    assert "water" not in incident.unassigned_kinds


@pytest.mark.django_db
def test_category_without_a_plan_goes_to_triage(cast):
    incident = report(cast, category="public_disorder")
    assert incident.status == IncidentStatus.TRIAGE
    assert names(incident) == ["incident.reported", "incident.triage"]


@pytest.mark.django_db
def test_full_life_of_a_ticket_through_every_stage(cast):
    incident = report(cast, severity=4)
    ticket = water_ticket(incident)
    op = cast.water_op
    assert services.ticket_deliver(actor=op, ticket_id=ticket.id)[0].status == TicketStatus.DELIVERED
    assert services.ticket_accept(actor=op, ticket_id=ticket.id)[0].status == TicketStatus.ACCEPTED
    services.ticket_feedback(actor=op, ticket_id=ticket.id, text="pumps on the way")
    assert services.ticket_confirm(actor=cast.dispatcher, ticket_id=ticket.id)[0].status == TicketStatus.CONFIRMED
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    services.ticket_feedback(actor=op, ticket_id=ticket.id, text="water gone", final=True)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.resolved_by == op
    services.ticket_reopen(actor=cast.dispatcher, ticket_id=ticket.id, reason="street 2 still flooded")
    services.ticket_feedback(actor=op, ticket_id=ticket.id, text="street 2 clear", final=True)
    services.ticket_close(actor=cast.dispatcher, ticket_id=ticket.id)
    services.incident_close(actor=cast.dispatcher, incident_id=incident.id, outcome="积水已排除")
    ticket.refresh_from_db()
    incident.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.due_at is None
    assert incident.status == IncidentStatus.CLOSED
    assert all([ticket.delivered_at, ticket.accepted_at, ticket.confirmed_at, ticket.first_feedback_at, ticket.closed_at])
    assert names(incident) == [
        "incident.reported", "ticket.issued", "ticket.delivered", "ticket.accepted", "ticket.feedback",
        "ticket.confirmed", "incident.updated", "ticket.resolved", "incident.updated",
        "ticket.reopened", "incident.updated", "ticket.resolved", "incident.updated", "ticket.closed",
        "incident.closed",
    ]
    assert verify_chain()[1] is None


def ticket_events(ticket):
    return Event.objects.filter(ticket=ticket).count()


def _drive_to(cast, ticket, status):
    """Move a fresh ticket to a status through the allowed path."""
    op, d = cast.water_op, cast.dispatcher
    path = {
        TicketStatus.ISSUED: [],
        TicketStatus.DELIVERED: [lambda: services.ticket_deliver(actor=op, ticket_id=ticket.id)],
        TicketStatus.ACCEPTED: ["delivered", lambda: services.ticket_accept(actor=op, ticket_id=ticket.id)],
        TicketStatus.CONFIRMED: ["accepted", lambda: services.ticket_confirm(actor=d, ticket_id=ticket.id)],
        TicketStatus.RESOLVED: ["confirmed", lambda: services.ticket_feedback(actor=op, ticket_id=ticket.id, text="done", final=True)],
        TicketStatus.CLOSED: ["resolved", lambda: services.ticket_close(actor=d, ticket_id=ticket.id)],
        TicketStatus.REJECTED: [lambda: services.ticket_reject(actor=op, ticket_id=ticket.id, reason="not ours")],
        TicketStatus.CANCELLED: [lambda: services.ticket_cancel(actor=d, ticket_id=ticket.id, reason="duplicate")],
    }
    for step in path[status]:
        if isinstance(step, str):
            _drive_to(cast, ticket, step)
        else:
            step()


def _act(cast, action, ticket):
    op, d = cast.water_op, cast.dispatcher
    calls = {
        "deliver": lambda: services.ticket_deliver(actor=op, ticket_id=ticket.id),
        "accept": lambda: services.ticket_accept(actor=op, ticket_id=ticket.id),
        "reject": lambda: services.ticket_reject(actor=op, ticket_id=ticket.id, reason="why"),
        "confirm": lambda: services.ticket_confirm(actor=d, ticket_id=ticket.id),
        "feedback": lambda: services.ticket_feedback(actor=op, ticket_id=ticket.id, text="x"),
        "resolve": lambda: services.ticket_feedback(actor=op, ticket_id=ticket.id, text="x", final=True),
        "reopen": lambda: services.ticket_reopen(actor=d, ticket_id=ticket.id, reason="why"),
        "close": lambda: services.ticket_close(actor=d, ticket_id=ticket.id),
        "cancel": lambda: services.ticket_cancel(actor=d, ticket_id=ticket.id, reason="why"),
    }
    return calls[action]()


ALL_CASES = [(action, status) for action in TRANSITIONS for status in TicketStatus.values]


@pytest.mark.django_db
@pytest.mark.parametrize("action,status", ALL_CASES)
def test_every_action_in_every_status_follows_the_transitions_table(cast, action, status):
    ticket = water_ticket(report(cast, severity=4))
    _drive_to(cast, ticket, status)
    before, ticket_before = Event.objects.count(), ticket_events(ticket)
    allowed = status in TRANSITIONS[action]
    idempotent_repeat = (action, status) in {
        ("deliver", "accepted"), ("deliver", "confirmed"), ("deliver", "resolved"), ("deliver", "closed"),
        ("deliver", "delivered"), ("accept", "accepted"), ("confirm", "confirmed"), ("close", "closed"),
        ("cancel", "cancelled"), ("reject", "rejected"),
    }
    if allowed:
        _act(cast, action, ticket)
        ticket.refresh_from_db()
        assert ticket.status == TRANSITIONS[action][status]
        assert ticket_events(ticket) == ticket_before + 1  # and incident.updated when the incident's status moved
    elif idempotent_repeat:
        _act(cast, action, ticket)
        ticket.refresh_from_db()
        assert ticket.status == status
        assert Event.objects.count() == before, "a repeated acknowledgement changes nothing"
    else:
        with pytest.raises(Conflict) as refused:
            _act(cast, action, ticket)
        assert refused.value.extra["status"] == status
        ticket.refresh_from_db()
        assert ticket.status == status
        assert Event.objects.count() == before


@pytest.mark.django_db
def test_deliver_and_accept_twice_change_nothing_the_second_time(cast):
    ticket = water_ticket(report(cast, severity=4))
    assert services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)[1] is True
    assert services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)[1] is False
    assert services.ticket_accept(actor=cast.water_op, ticket_id=ticket.id)[1] is True
    assert services.ticket_accept(actor=cast.water_op, ticket_id=ticket.id)[1] is False
    assert Event.objects.filter(ticket=ticket).count() == 3  # issued, delivered, accepted


@pytest.mark.django_db
def test_second_operator_is_told_the_ticket_is_already_accepted(cast):
    ticket = water_ticket(report(cast, severity=4))
    services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    services.ticket_accept(actor=cast.water_op, ticket_id=ticket.id)
    with pytest.raises(Conflict, match="already accepted by t-water"):
        services.ticket_accept(actor=cast.water_op2, ticket_id=ticket.id)


@pytest.mark.django_db
def test_operator_cannot_touch_another_subcenters_ticket(cast):
    ticket = water_ticket(report(cast))
    with pytest.raises(NotFound):
        services.ticket_deliver(actor=cast.health_op, ticket_id=ticket.id)


@pytest.mark.django_db
def test_roles_are_enforced_by_the_services(cast):
    ticket = water_ticket(report(cast))
    with pytest.raises(Forbidden):
        services.ticket_deliver(actor=cast.dispatcher, ticket_id=ticket.id)
    with pytest.raises(Forbidden):
        services.ticket_confirm(actor=cast.water_op, ticket_id=ticket.id)
    with pytest.raises(Forbidden):
        services.ticket_cancel(actor=cast.leader, ticket_id=ticket.id, reason="no")


@pytest.mark.django_db
@pytest.mark.parametrize("call", ["reject", "reopen", "cancel"])
def test_a_reason_is_required_where_the_lifecycle_says_so(cast, call):
    ticket = water_ticket(report(cast, severity=4))
    actor = cast.water_op if call == "reject" else cast.dispatcher
    with pytest.raises(Invalid) as refused:
        getattr(services, f"ticket_{call}")(actor=actor, ticket_id=ticket.id, reason="  ")
    assert "reason" in refused.value.errors


@pytest.mark.django_db
def test_rejected_ticket_returns_its_kind_to_the_command_center_for_reassignment(cast):
    incident = report(cast, severity=4)
    services.ticket_reject(actor=cast.water_op, ticket_id=water_ticket(incident).id, reason="pumps busy")
    incident.refresh_from_db()
    assert incident.unassigned_kinds == ["water"]
    assert incident.status == IncidentStatus.TRIAGE
    services.incident_assign(actor=cast.dispatcher, incident_id=incident.id, subcenter_code="530922-water")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.DISPATCHED and incident.unassigned_kinds == []


@pytest.mark.django_db
def test_incident_cannot_close_while_a_ticket_is_open(cast):
    incident = report(cast, severity=4)
    with pytest.raises(Conflict, match="still has open tickets"):
        services.incident_close(actor=cast.dispatcher, incident_id=incident.id, outcome="处置完毕")


@pytest.mark.django_db
def test_closed_incident_does_not_take_new_assignments(cast):
    incident = report(cast, point=EAST_CHINA_SEA)
    services.incident_close(actor=cast.dispatcher, incident_id=incident.id, outcome="误报", reason="false alarm")
    with pytest.raises(Conflict, match="is closed"):
        services.incident_assign(actor=cast.dispatcher, incident_id=incident.id, subcenter_code="530921-water")


@pytest.mark.django_db
def test_repeated_idempotency_key_returns_the_first_incident_and_creates_nothing(cast):
    first = report(cast, idempotency_key="call-110-0001")
    tickets, events = Ticket.objects.count(), Event.objects.count()
    retry = services.incident_report(
        actor=cast.dispatcher, category="flood", severity=2, lon=FENGQING[0], lat=FENGQING[1],
        title="积水 waterlogging", idempotency_key="call-110-0001",
    )
    again, created = retry.incident, retry.created
    assert (again.id, created) == (first.id, False)
    assert (Ticket.objects.count(), Event.objects.count()) == (tickets, events)


@pytest.mark.django_db
def test_same_idempotency_key_with_a_different_body_is_refused(cast):
    report(cast, idempotency_key="call-110-0002")
    with pytest.raises(Conflict, match="different request"):
        report(cast, idempotency_key="call-110-0002", severity=3)
    assert Incident.objects.filter(idempotency_key="call-110-0002").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("field,change", [
    ("location", {"point": (200.0, 24.6)}),
    ("severity", {"severity": 5}),
    ("category", {"category": "alien_invasion"}),
])
def test_bad_report_names_the_field_and_writes_nothing(cast, field, change):
    before = (Incident.objects.count(), Event.objects.count())
    with pytest.raises(Invalid) as refused:
        report(cast, **change)
    assert field in refused.value.errors
    assert (Incident.objects.count(), Event.objects.count()) == before


def _in_thread(fn):
    result = {}

    def run():
        try:
            result["value"] = fn()
        except Exception as exc:  # collected for the assertion in the main thread
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


@pytest.mark.django_db(transaction=True)
def test_two_operators_accepting_at_once_exactly_one_wins(cast):
    ticket = water_ticket(report(cast, severity=4))
    services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    barrier = threading.Barrier(2)

    def accept(user):
        barrier.wait()
        return services.ticket_accept(actor=user, ticket_id=ticket.id)

    runs = [_in_thread(lambda u=u: accept(u)) for u in (cast.water_op, cast.water_op2)]
    for thread, _ in runs:
        thread.join()
    outcomes = [r for _, r in runs]
    winners = [r for r in outcomes if "value" in r and r["value"][1]]
    losers = [r for r in outcomes if isinstance(r.get("error"), Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert Event.objects.filter(ticket=ticket, name="ticket.accepted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_late_committing_event_is_never_skipped_by_a_reader(seeded):
    """A reader that has seen seq N must never later find a committed event below N.

    The slow writer appends first but commits last: it must get the higher seq.
    """
    first_appended = threading.Event()
    release_first = threading.Event()

    def slow_writer():
        with transaction.atomic():
            events_append([{"name": "terminal.presence", "payload": {"writer": "slow"}}])
            first_appended.set()
            release_first.wait(5)

    def fast_writer():
        first_appended.wait(5)
        with transaction.atomic():
            events_append([{"name": "terminal.presence", "payload": {"writer": "fast"}}])

    def committed():
        return list(Event.objects.filter(seq__gt=before).order_by("seq").values_list("seq", "payload__writer"))

    before = max(Event.objects.values_list("seq", flat=True), default=0)
    slow, _ = _in_thread(slow_writer)
    first_appended.wait(5)
    fast, _ = _in_thread(fast_writer)
    fast.join(5)
    assert not fast.is_alive(), "a writer never waits for another writer's open transaction"
    assert committed() == [(before + 1, "fast")], "seen: the fast writer's event, as seq N"
    release_first.set()
    slow.join()
    assert committed() == [(before + 1, "fast"), (before + 2, "slow")], "the late commit comes after N, never below"
    assert verify_chain()[1] is None


@pytest.mark.django_db(transaction=True)
def test_two_tickets_confirmed_at_once_leave_the_incident_acknowledged(cast):
    """The second confirmation waits for the first to commit, then sees both confirmed."""
    incident = report(cast, severity=2)
    tickets = list(incident.tickets.order_by("id"))
    assert len(tickets) >= 2
    for ticket in tickets:
        operator, _ = services.user_add(username=f"t-{ticket.subcenter.code}", role="operator",
                                        subcenter_code=ticket.subcenter.code)
        services.ticket_deliver(actor=operator, ticket_id=ticket.id)
        services.ticket_accept(actor=operator, ticket_id=ticket.id)
    for ticket in tickets[2:]:
        services.ticket_confirm(actor=cast.dispatcher, ticket_id=ticket.id)
    first_confirmed, release_first = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():  # holds the first confirmation's commit back
            services.ticket_confirm(actor=cast.dispatcher, ticket_id=tickets[0].id)
            first_confirmed.set()
            release_first.wait(5)

    one, first_result = _in_thread(first)
    first_confirmed.wait(5)
    two, second_result = _in_thread(lambda: services.ticket_confirm(actor=cast.dispatcher, ticket_id=tickets[1].id))
    two.join(0.5)
    assert two.is_alive(), "the second confirmation waits for the incident the first has locked"
    release_first.set()
    one.join()
    two.join()
    assert "error" not in first_result and "error" not in second_result, (first_result, second_result)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
