"""Writes of terminal presence (在线状态): connect, heartbeats, goodbye, and the sweep of silent terminals.

A terminal is live while its heartbeats keep coming: a process killed without a goodbye
leaves a row whose heartbeat simply goes stale. Changes of a sub-center's summary are
`terminal.presence` events for the command center.
"""

from django.db import connection, transaction
from django.utils import timezone

from dispatch import sql
from dispatch.events import events_append
from dispatch.models import Terminal
from dispatch.publisher import publish_on_commit
from dispatch.selectors.presence import stale_after, subcenter_terminal_health
from geo.models import SubCenter


def _announce_if_changed(subcenter_id, before, actor):
    after = subcenter_terminal_health([subcenter_id])[subcenter_id]
    if (before["online"], before["audio_armed"]) == (after["online"], after["audio_armed"]):
        return
    subcenter = SubCenter.objects.get(pk=subcenter_id)
    payload = {"subcenter": {"id": subcenter.id, "code": subcenter.code, "name": subcenter.name}, **after}
    publish_on_commit(events_append([{"name": "terminal.presence", "actor": actor, "payload": payload}]))


@transaction.atomic
def terminal_connect(*, channel_name: str, user, subcenter_id: int) -> None:
    """Record a terminal's connection."""
    before = subcenter_terminal_health([subcenter_id])[subcenter_id]
    now = timezone.now()
    Terminal.objects.update_or_create(
        channel_name=channel_name,
        defaults={"user": user, "subcenter_id": subcenter_id, "connected_at": now, "last_heartbeat_at": now},
    )
    _announce_if_changed(subcenter_id, before, user)


def terminal_heartbeat(*, channel_name: str, audio_armed: bool, page_visible: bool) -> None:
    """Record a heartbeat with the terminal's health."""
    now = timezone.now()
    # The common case in one statement: nothing that presence shows has changed.
    if Terminal.objects.filter(
        channel_name=channel_name, audio_armed=audio_armed, last_heartbeat_at__gte=now - stale_after()
    ).update(last_heartbeat_at=now, page_visible=page_visible):
        return
    _heartbeat_changed(channel_name=channel_name, audio_armed=audio_armed, page_visible=page_visible, now=now)


def terminals_beat(*, beats: dict[str, bool], now=None) -> None:
    """Record in one statement the heartbeats {channel name: page visible} that change no presence."""
    with connection.cursor() as cursor:
        cursor.execute(sql.RECORD_QUIET_HEARTBEATS, [now or timezone.now(), list(beats), list(beats.values())])


@transaction.atomic
def _heartbeat_changed(*, channel_name, audio_armed, page_visible, now):
    terminal = Terminal.objects.select_for_update(of=("self",)).select_related("user").filter(channel_name=channel_name).first()
    if terminal is None:
        return
    before = subcenter_terminal_health([terminal.subcenter_id])[terminal.subcenter_id]
    Terminal.objects.filter(pk=terminal.pk).update(
        last_heartbeat_at=now, audio_armed=audio_armed, page_visible=page_visible
    )
    _announce_if_changed(terminal.subcenter_id, before, terminal.user)


@transaction.atomic
def terminal_disconnect(*, channel_name: str) -> None:
    """Forget a terminal that said goodbye."""
    terminal = Terminal.objects.select_related("user").filter(channel_name=channel_name).first()
    if terminal is None:
        return
    before = subcenter_terminal_health([terminal.subcenter_id])[terminal.subcenter_id]
    terminal.delete()
    _announce_if_changed(terminal.subcenter_id, before, terminal.user)


@transaction.atomic
def terminals_sweep(*, now=None) -> int:
    """Forget terminals whose heartbeats stopped (a killed process says no goodbye).

    Their sub-centers' summaries are announced again, so the console learns that they went
    quiet; return how many terminals were forgotten.
    """
    cutoff = (now or timezone.now()) - stale_after()
    stale = list(Terminal.objects.select_for_update(skip_locked=True).filter(last_heartbeat_at__lt=cutoff))
    if not stale:
        return 0
    Terminal.objects.filter(pk__in=[t.pk for t in stale]).delete()
    for subcenter_id in sorted({t.subcenter_id for t in stale}):
        gone = {"online": -1, "audio_armed": None}  # forces the announcement
        _announce_if_changed(subcenter_id, gone, None)
    return len(stale)
