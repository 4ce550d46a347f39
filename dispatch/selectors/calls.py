"""Reads of calls (来电): an incident's calls, and the open incidents a new call may be about."""

from datetime import timedelta

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db.models.expressions import RawSQL
from django.utils import timezone

from dispatch import sql
from dispatch.models import Call, Incident, IncidentStatus
from dispatch.representations import call_data, incident_data
from dispatch.selectors.scope import incident_get
from geo.router import tolerance_degrees


def incident_calls(*, user, incident_id: int) -> list[dict]:
    """Return the calls of an incident in the user's scope, oldest first (moved ones included)."""
    incident = incident_get(user=user, incident_id=incident_id)
    calls = Call.objects.filter(incident=incident).select_related("received_by").order_by("received_at", "id")
    return [call_data(call) for call in calls]


def incident_duplicates(*, lon: float, lat: float, radius_m: float | None = None, hours: float | None = None) -> list[dict]:
    """Return the open incidents of any category near the point and recent, nearest first, each with distance_m.

    The defaults are settings.DUPLICATE_RADIUS_M and DUPLICATE_WINDOW_H. The geometry GiST index
    narrows the candidates with a box at least radius_m wide; the distance is on the spheroid.
    """
    radius_m = settings.DUPLICATE_RADIUS_M if radius_m is None else radius_m
    hours = settings.DUPLICATE_WINDOW_H if hours is None else hours
    near = (Point(lon, lat, srid=4326), tolerance_degrees(lat, radius_m))
    incidents = (
        Incident.objects.select_related("category")
        .exclude(status=IncidentStatus.CLOSED)
        .filter(reported_at__gte=timezone.now() - timedelta(hours=hours), location__dwithin=near)
        .annotate(distance_m=RawSQL(sql.INCIDENT_DISTANCE_M, (lon, lat)))
        .filter(distance_m__lte=radius_m)
        .order_by("distance_m", "-reported_at", "id")
    )
    return [{**incident_data(i), "distance_m": round(i.distance_m, 1)} for i in incidents]
