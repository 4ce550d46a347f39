"""Terminal presence (在线状态): which sub-centers have a live terminal that can ring.

A terminal is live while its heartbeats keep coming: a process killed without a goodbye
leaves a row whose heartbeat simply goes stale. Changes of a sub-center's summary are
`terminal.presence` events for the command center.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dispatch.events import events_append
from dispatch.models import Terminal
from dispatch.publisher import publish_on_commit
from geo.models import SubCenter


def stale_after():
    return timedelta(seconds=settings.TERMINAL_STALE_S)


HEALTH_SQL = """
SELECT subcenter_id, count(*), count(*) FILTER (WHERE audio_armed), max(last_heartbeat_at)
FROM dispatch_terminal WHERE subcenter_id = ANY(%s) AND last_heartbeat_at >= %s
GROUP BY subcenter_id
"""


def subcenter_terminal_health(subcenter_ids, *, now=None):
    """Return {subcenter id: {online, audio_armed, last_heartbeat}} for the given sub-centers."""
    live_since = (now or timezone.now()) - stale_after()
    health = {sid: {"online": 0, "audio_armed": False, "last_heartbeat": None} for sid in subcenter_ids}
    with connection.cursor() as cursor:
        cursor.execute(HEALTH_SQL, [list(health), live_since])
        for subcenter_id, online, armed, last in cursor.fetchall():
            health[subcenter_id] = {"online": online, "audio_armed": armed > 0, "last_heartbeat": last.isoformat()}
    return health


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


BEATS_SQL = """
UPDATE dispatch_terminal t SET last_heartbeat_at = %s, page_visible = beat.page_visible
FROM unnest(%s::text[], %s::boolean[]) AS beat(channel_name, page_visible)
WHERE t.channel_name = beat.channel_name
"""


def terminals_beat(*, beats: dict[str, bool], now=None) -> None:
    """Record in one statement the heartbeats {channel name: page visible} that change no presence."""
    with connection.cursor() as cursor:
        cursor.execute(BEATS_SQL, [now or timezone.now(), list(beats), list(beats.values())])


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
