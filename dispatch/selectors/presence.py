"""Terminal presence (在线状态): which sub-centers have a live terminal that can ring.

A terminal is live while its heartbeats keep coming: a process killed without a goodbye
leaves a row whose heartbeat simply goes stale.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from dispatch import sql


def stale_after():
    return timedelta(seconds=settings.TERMINAL_STALE_S)


def subcenter_terminal_health(subcenter_ids, *, now=None):
    """Return {subcenter id: {online, audio_armed, last_heartbeat}} for the given sub-centers."""
    live_since = (now or timezone.now()) - stale_after()
    health = {sid: {"online": 0, "audio_armed": False, "last_heartbeat": None} for sid in subcenter_ids}
    with connection.cursor() as cursor:
        cursor.execute(sql.TERMINAL_HEALTH, [list(health), live_since])
        for subcenter_id, online, armed, last in cursor.fetchall():
            health[subcenter_id] = {"online": online, "audio_armed": armed > 0, "last_heartbeat": last.isoformat()}
    return health
