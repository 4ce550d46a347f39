"""Snapshot + events = snapshot (Zulip's verify_action): the screens may trust the stream.

A long random sequence of actions runs against the real services. After each one, the
previous snapshot of a scope with the new events of that scope applied must equal a fresh
snapshot of the same scope, for the command center (everything) and for operators (their
sub-center's tickets and the incidents those tickets belong to).
"""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.errors import DispatchError
from dispatch.models import Event, Incident, Ticket
from dispatch.selectors.stream import events_after, snapshot, snapshot_apply, snapshot_state

pytestmark = pytest.mark.django_db(transaction=True)

FENGQING = (99.95, 24.6)  # 凤庆县: water, health, fire … of 530921
ELSEWHERE = (100.08, 23.88)  # 临翔区
NOWHERE = (120.0, 40.0)  # outside every jurisdiction: triage
REPORTS = [("flood", 4), ("flood", 1), ("epidemic", 3), ("traffic_accident", 2), ("public_disorder", 3)]


class Scene:
    """The actions a night shift takes, chosen at random among those the state allows."""

    def __init__(self, cast, rng):
        self.cast, self.rng = cast, rng
        self.operators = [cast.water_op, cast.health_op]

    def step(self):
        name, action = self.rng.choice(self.actions())
        try:
            action()
        except DispatchError:
            pass  # a refused action writes nothing and sends nothing; the check still runs
        return name

    def actions(self):
        actions = [("report", self.report)]
        tickets = list(Ticket.objects.select_related("subcenter").order_by("id"))
        if tickets:
            ticket = self.rng.choice(tickets)
            actions += [(name, lambda n=name, t=ticket: self.ticket_action(n, t)) for name in TICKET_ACTIONS]
            actions.append(("escalate", self.escalate))
            # Mostly, someone takes the next step of a ticket, so tickets and incidents reach their end.
            moving = [t for t in tickets if t.status in NEXT_STEP]
            for ticket in self.rng.sample(moving, min(len(moving), 4)):
                name = self.rng.choice(NEXT_STEP[ticket.status])
                actions += [(name, lambda n=name, t=ticket: self.ticket_action(n, t))] * 3
        incidents = list(Incident.objects.order_by("id"))
        if incidents:
            incident = self.rng.choice(incidents)
            other = self.rng.choice(incidents)
            actions += [("assign", lambda: self.assign(incident)), ("close_incident", lambda: self.close(incident))]
            actions += [
                ("edit", lambda: self.edit(incident)), ("severity", lambda: self.severity(incident)),
                ("call", lambda: self.call(incident)), ("merge", lambda: self.merge(incident, other)),
            ]
        return actions

    def report(self):
        category, severity = self.rng.choice(REPORTS)
        lon, lat = self.rng.choice([FENGQING, FENGQING, ELSEWHERE, NOWHERE])
        services.incident_report(
            actor=self.cast.dispatcher, category=category, severity=severity, lon=lon, lat=lat, title="测试",
        )

    def operator_of(self, ticket):
        return next((op for op in self.operators if op.operator_post.subcenter_id == ticket.subcenter_id), None)

    def ticket_action(self, name, ticket):
        operator = self.operator_of(ticket) or self.cast.dispatcher
        actor = self.cast.dispatcher if name in COMMAND_CENTER_ACTIONS else operator
        TICKET_ACTIONS[name](actor, ticket.id)

    def escalate(self):
        services.tickets_escalate_due(now=timezone.now() + timedelta(hours=2))

    def assign(self, incident):
        code = self.rng.choice(["530921-water", "530921-health", "530921-fire", "530902-water"])
        services.incident_assign(actor=self.cast.dispatcher, incident_id=incident.id, subcenter_code=code)

    def close(self, incident):
        services.incident_close(actor=self.cast.dispatcher, incident_id=incident.id, outcome="处置完毕")

    def edit(self, incident):
        fields = {"title": self.rng.choice(["积水", "内涝", "测试"]), "address": self.rng.choice(["", "凤山镇"])}
        services.incident_edit(actor=self.cast.dispatcher, incident_id=incident.id, fields=fields)

    def severity(self, incident):
        services.incident_set_severity(
            actor=self.cast.dispatcher, incident_id=incident.id, severity=self.rng.randint(1, 4), reason="研判"
        )

    def call(self, incident):
        services.call_attach(actor=self.cast.dispatcher, incident_id=incident.id, note="又来电")

    def merge(self, incident, into):
        services.incident_merge(actor=self.cast.dispatcher, incident_id=incident.id, into_id=into.id, reason="重复")


TICKET_ACTIONS = {
    "deliver": lambda actor, tid: services.ticket_deliver(actor=actor, ticket_id=tid),
    "accept": lambda actor, tid: services.ticket_accept(actor=actor, ticket_id=tid),
    "reject": lambda actor, tid: services.ticket_reject(actor=actor, ticket_id=tid, reason="不属本单位"),
    "confirm": lambda actor, tid: services.ticket_confirm(actor=actor, ticket_id=tid),
    "feedback": lambda actor, tid: services.ticket_feedback(actor=actor, ticket_id=tid, text="进展"),
    "resolve": lambda actor, tid: services.ticket_feedback(actor=actor, ticket_id=tid, text="完成", final=True),
    "reopen": lambda actor, tid: services.ticket_reopen(actor=actor, ticket_id=tid, reason="未处置完"),
    "close": lambda actor, tid: services.ticket_close(actor=actor, ticket_id=tid),
    "cancel": lambda actor, tid: services.ticket_cancel(actor=actor, ticket_id=tid, reason="派错"),
    "check": lambda actor, tid: services.ticket_check(actor=actor, ticket_id=tid, item=0, done=True),
    "uncheck": lambda actor, tid: services.ticket_check(actor=actor, ticket_id=tid, item=0, done=False),
}
NEXT_STEP = {
    "issued": ["deliver"], "delivered": ["accept"], "accepted": ["confirm", "feedback"],
    "confirmed": ["resolve", "feedback"], "resolved": ["close", "close", "reopen"],
}
COMMAND_CENTER_ACTIONS = {"confirm", "reopen", "close", "cancel"}


def test_applying_the_events_to_the_previous_snapshot_gives_the_fresh_snapshot(cast):
    rng = random.Random(20261201)
    scene = Scene(cast, rng)
    scopes = {"command center": None, "water": cast.water_op.operator_post.subcenter_id,
              "health": cast.health_op.operator_post.subcenter_id}
    states = {name: snapshot_state(*snapshot(scope)) for name, scope in scopes.items()}
    done = []
    for _ in range(240):
        done.append(scene.step())
        for name, scope in scopes.items():
            state = states[name]
            for event in events_after(scope, state["seq"]):
                snapshot_apply(state, event)
            fresh = snapshot_state(*snapshot(scope))
            assert (state["incidents"], state["tickets"]) == (fresh["incidents"], fresh["tickets"]), (
                f"{name} drifted after {done[-6:]}"
            )
            states[name] = fresh
    # The walk really exercised the lifecycle, not just reports.
    assert {"report", "deliver", "accept", "confirm", "resolve", "close", "assign", "close_incident", "check"} <= set(done)
    assert {"edit", "severity", "call", "merge"} <= set(done)
    assert Ticket.objects.filter(status="closed").exists() and Incident.objects.filter(status="closed").exists()
    assert Incident.objects.filter(duplicate_of__isnull=False).exists() and Incident.objects.filter(call_count__gt=1).exists()
    assert Event.objects.filter(name="ticket.checked").exists()  # a tick was applied, not only refused
