"""GET /api/v1/health: 200 when the database and the channel layer answer, 503 otherwise."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

CHANNEL_LAYER_TIMEOUT_S = 2


def database_state():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT postgis_lib_version()")
            return {"ok": True, "postgis": cursor.fetchone()[0]}
    except Exception as exc:  # the point of a health check is to report any failure
        return {"ok": False, "error": str(exc)}


async def _layer_round_trip():
    layer = get_channel_layer()
    channel = await layer.new_channel("health")
    await layer.send(channel, {"type": "health.ping"})
    await layer.receive(channel)
    return type(layer).__name__


def channel_layer_state():
    async def probe():
        return await asyncio.wait_for(_layer_round_trip(), CHANNEL_LAYER_TIMEOUT_S)

    try:
        return {"ok": True, "backend": async_to_sync(probe)()}
    except Exception as exc:
        return {"ok": False, "error": str(exc) or type(exc).__name__}


def health(request):
    state = {"database": database_state(), "channel_layer": channel_layer_state()}
    healthy = all(part["ok"] for part in state.values())
    return JsonResponse({"ok": healthy, **state}, status=200 if healthy else 503)
