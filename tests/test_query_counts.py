"""How many queries each hot path makes, pinned: one field added to ticket_data must not add a query to every transition.

Counts include the savepoint a service's transaction becomes inside the test's, and the
read-back of the events' seqs that the doorbell makes after commit. When a count changes on
purpose, say why in the commit and update it here.
"""

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.models import Ticket
from dispatch.roles import user_role
from dispatch.selectors import stream
from realtime import frames
from realtime.consumers import StreamConsumer

FENGQING = (99.95, 24.6)


@pytest.fixture
def counted(django_assert_num_queries, django_capture_on_commit_callbacks):
    """Assert that the block makes exactly n queries, the doorbell's after-commit work included."""

    class Counted:
        def __init__(self, n):
            self.n = n

        def __enter__(self):
            self.queries = django_assert_num_queries(self.n)
            self.queries.__enter__()
            self.commits = django_capture_on_commit_callbacks(execute=True)
            self.commits.__enter__()

        def __exit__(self, *exc):
            self.commits.__exit__(*exc)
            return self.queries.__exit__(*exc)

    return Counted


def report(cast, **overrides):
    fields = {"category": "flood", "severity": 4, "lon": FENGQING[0], "lat": FENGQING[1], "title": "城区积水"}
    return services.incident_report(actor=cast.dispatcher, **{**fields, **overrides})


@pytest.fixture
def ticket(cast, terminals_online):
    """A water ticket of 凤庆县, its sub-center's terminal live, the plan caches warm.

    The actors' roles are known too, as they are on a stream (the connection's user) and over
    REST (the token cache).
    """
    for user in (cast.dispatcher, cast.water_op):
        user_role(user)
    return report(cast).tickets[0]


@pytest.mark.django_db
def test_report_of_a_one_kind_incident(cast, terminals_online, counted):
    report(cast)  # warm the per-process caches of categories and plans
    # savepoint, route, reverse lookup (the incident's `place`, one statement: #14), insert incident,
    # insert its first call, insert ticket, terminal health, insert events, release, seqs
    with counted(10):
        report(cast, title="another")


@pytest.mark.django_db
def test_report_of_a_four_kind_incident(cast, terminals_online, counted):
    report(cast, severity=1)
    with counted(10):  # the same statements: the tickets and their events go in one statement each
        report(cast, severity=1, title="another")


@pytest.mark.django_db
@pytest.mark.parametrize("action,queries", [
    # savepoint, lock ticket, update ticket, lock incident, its tickets, insert events, release, seqs
    ("deliver", 8),
    # … and the deliverer's name for ticket_data
    ("accept", 9),
])
def test_terminal_acknowledgements(cast, ticket, counted, action, queries):
    if action == "accept":
        services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    call = {"deliver": services.ticket_deliver, "accept": services.ticket_accept}[action]
    with counted(queries):
        call(actor=cast.water_op, ticket_id=ticket.id)


@pytest.mark.django_db
def test_confirm_that_moves_the_incident_reads_the_incident_once_for_its_event(cast, ticket, counted):
    services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    services.ticket_accept(actor=cast.water_op, ticket_id=ticket.id)
    # savepoint, lock, update, actors, lock incident, its tickets, update incident, read incident, events,
    # release, seqs
    with counted(11):
        services.ticket_confirm(actor=cast.dispatcher, ticket_id=ticket.id)


@pytest.mark.django_db
def test_feedback_locks_and_reads_the_ticket_once(cast, ticket, counted):
    op = cast.water_op
    services.ticket_deliver(actor=op, ticket_id=ticket.id)
    services.ticket_accept(actor=op, ticket_id=ticket.id)
    services.ticket_confirm(actor=cast.dispatcher, ticket_id=ticket.id)
    # savepoint, lock, insert feedback, update ticket, actors, insert event, release, seqs
    with counted(8):
        services.ticket_feedback(actor=op, ticket_id=ticket.id, text="泵车已到")
    # savepoint, lock, insert feedback, update, actors, lock incident, its tickets, update incident,
    # read incident, events, release, seqs
    with counted(12):
        services.ticket_feedback(actor=op, ticket_id=ticket.id, text="积水已排除", final=True)


def resolved(cast, ticket):
    op = cast.water_op
    services.ticket_deliver(actor=op, ticket_id=ticket.id)
    services.ticket_accept(actor=op, ticket_id=ticket.id)
    services.ticket_confirm(actor=cast.dispatcher, ticket_id=ticket.id)
    services.ticket_feedback(actor=op, ticket_id=ticket.id, text="积水已排除", final=True)


@pytest.mark.django_db
@pytest.mark.parametrize("action,queries", [
    # savepoint, lock ticket, update, lock incident, its tickets, update incident (the kind back to
    # triage), read incident, events, release, seqs
    ("reject", 10),
    # … the same, the incident no longer dispatched: cancel a delivered ticket, its only one
    ("cancel", 11),
    # savepoint, lock, update, actors, lock incident, its tickets, update incident, read incident,
    # events, release, seqs: a reopened ticket makes the incident acknowledged again
    ("reopen", 11),
    # savepoint, lock, update, actors, lock incident, its tickets (still resolved: no change),
    # events, release, seqs
    ("close", 9),
])
def test_the_command_center_and_refusal_actions(cast, ticket, counted, action, queries):
    if action in ("reopen", "close"):
        resolved(cast, ticket)
    elif action == "cancel":
        services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    calls = {
        "reject": lambda: services.ticket_reject(actor=cast.water_op, ticket_id=ticket.id, reason="非本单位辖区"),
        "cancel": lambda: services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket.id, reason="派错"),
        "reopen": lambda: services.ticket_reopen(actor=cast.dispatcher, ticket_id=ticket.id, reason="未处置完"),
        "close": lambda: services.ticket_close(actor=cast.dispatcher, ticket_id=ticket.id),
    }
    with counted(queries):
        calls[action]()


@pytest.mark.django_db
def test_a_stream_action_is_the_service_and_nothing_more(cast, ticket, counted):
    consumer = StreamConsumer()
    consumer.user = cast.water_op
    frame = frames.parse_client_frame({"type": "delivered", "ticket": ticket.id, "ref": "r1"})
    with counted(8):  # the same as services.ticket_deliver
        result = consumer.act(frame)
    assert result["ok"] is True and result["status"] == "delivered"


@pytest.mark.django_db
def test_heartbeats(cast, ticket, counted):
    channel = "test!530921-water"
    with counted(1):  # nothing presence shows changed: one UPDATE
        services.terminal_heartbeat(channel_name=channel, audio_armed=False, page_visible=True)
    with counted(1):  # a batch of quiet heartbeats: one UPDATE
        services.terminals_beat(beats={channel: True, "test!530921-health": False}, now=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_snapshots(cast, terminals_online, counted):
    for title in ("一", "二", "三"):
        report(cast, title=title, severity=1)
    water = cast.water_op.operator_post.subcenter_id
    # begin, isolation, head seq, tickets (+ sub-centers and actors), incidents (+ categories), commit
    with counted(6):
        seq, incidents, tickets = stream.snapshot(None)
    assert len(incidents) == 3 and len(tickets) == Ticket.objects.count()
    with counted(6):
        seq, incidents, tickets = stream.snapshot(water)
    assert len(incidents) == 3 and len(tickets) == 3


# ---- the command center's incident workflow --------------------------------------------------


@pytest.mark.django_db
def test_edit_of_an_incident(cast, ticket, counted):
    # savepoint, lock incident (+ category, plan), update, its tickets' sub-centers, insert event, release, seqs
    with counted(7):
        services.incident_edit(actor=cast.dispatcher, incident_id=ticket.incident_id, fields={"title": "滇红路积水"})


@pytest.mark.django_db
def test_raising_severity_routes_once_and_issues_in_one_statement(cast, ticket, counted):
    # savepoint, lock incident, its tickets (+ sub-centers), route, insert tickets, update incident,
    # terminal health, insert events, release, seqs
    with counted(10):
        change = services.incident_set_severity(actor=cast.dispatcher, incident_id=ticket.incident_id, severity=1, reason="升级")
    assert len(change.tickets) == 3


@pytest.mark.django_db
def test_another_call(cast, ticket, counted):
    # savepoint, lock incident, insert call, update incident, its tickets' sub-centers, insert event, release, seqs
    with counted(8):
        services.call_attach(actor=cast.dispatcher, incident_id=ticket.incident_id, note="又来电")


@pytest.mark.django_db
def test_merge(cast, ticket, counted):
    original = report(cast, title="原")
    # savepoint, lock the duplicate's open tickets (+ sub-centers, actors), lock both incidents, update the
    # ticket, move the calls, update the original, update the duplicate, the sub-centers of each,
    # insert events, release, seqs
    with counted(13):
        services.incident_merge(actor=cast.dispatcher, incident_id=ticket.incident_id, into_id=original.incident.id)


@pytest.mark.django_db
def test_close_with_outcome(cast, ticket, counted):
    services.ticket_cancel(actor=cast.dispatcher, ticket_id=ticket.id, reason="派错")
    # savepoint, lock tickets (+ sub-centers), lock incident, update, insert event, release, seqs
    with counted(7):
        services.incident_close(actor=cast.dispatcher, incident_id=ticket.incident_id, outcome="误报")


@pytest.mark.django_db
def test_a_checklist_tick_locks_the_ticket_once_and_appends_one_event(cast, ticket, counted):
    services.ticket_deliver(actor=cast.water_op, ticket_id=ticket.id)
    # savepoint, lock ticket, the deliverer's name, update, insert event, release, seqs
    with counted(7):
        services.ticket_check(actor=cast.water_op, ticket_id=ticket.id, item=0, done=True)
    # … the deliverer's name again (a new lock), and nothing else: the same tick changes nothing
    with counted(4):
        services.ticket_check(actor=cast.water_op, ticket_id=ticket.id, item=0, done=True)


@pytest.mark.django_db
def test_search_reads_one_page_in_one_query_and_county_or_count_one_more_each(cast, ticket, django_assert_num_queries):
    from dispatch.selectors import incident_list_geojson

    for title in ("一", "二", "三"):
        report(cast, title=f"积水{title}")
    with django_assert_num_queries(1):  # the page, categories joined, the operator's scope a subquery
        body = incident_list_geojson(user=cast.water_op, q="积水", limit=2)
    assert len(body["features"]) == 2 and body["next"]
    with django_assert_num_queries(3):  # … the county exists, the page, the count
        incident_list_geojson(user=cast.dispatcher, q="积水", county="530921", before=body["next"], count=True)


@pytest.mark.django_db(transaction=True)
def test_timeline_reads_the_incident_and_its_events_with_actors_and_subcenters(cast, terminals_online,
                                                                                django_assert_num_queries):
    from dispatch.selectors import incident_timeline

    result = report(cast, severity=1)
    for t in result.tickets:
        services.ticket_cancel(actor=cast.dispatcher, ticket_id=t.id, reason="派错")
    for user in (cast.dispatcher, cast.water_op):
        user_role(user)
    with django_assert_num_queries(2):  # the incident in scope, its events (+ actors, tickets, sub-centers)
        body = incident_timeline(user=cast.dispatcher, incident_id=result.incident.id)
    assert len(body["entries"]) > 2 * len(result.tickets)
    with django_assert_num_queries(2):
        incident_timeline(user=cast.water_op, incident_id=result.incident.id)
