"""Reads of incidents: the map list, one incident with its timeline, the report's answer, nearby resources."""

import re
from datetime import datetime

from django.contrib.gis.geos import Polygon

from dispatch.errors import Invalid
from dispatch.models import Event, Feedback, Incident, IncidentStatus, Ticket
from dispatch.representations import event_data, feedback_data, incident_data, ticket_data
from dispatch.selectors.reference import plan_data
from dispatch.selectors.scope import incident_get, incidents_visible, operator_scope, tickets_visible
from geo.models import Layer
from geo.selectors import distance_m, layer_features_near

Bbox = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat (WGS 84)

ERR_UNKNOWN_LAYER = "no layer named {name!r}"


def incident_list_geojson(
    *, user, status: list[str] | None = None, category: list[str] | None = None,
    severity: list[int] | None = None, bbox: Bbox | None = None,
    reported_after: datetime | None = None, reported_before: datetime | None = None, limit: int = 500,
) -> dict:
    """Return the newest incidents matching the filters as a GeoJSON FeatureCollection."""
    incidents = incidents_visible(user=user).order_by("-reported_at", "-id")
    filters = {
        "status__in": status, "category__code__in": category, "severity__in": severity,
        "reported_at__gte": reported_after, "reported_at__lt": reported_before,
    }
    incidents = incidents.filter(**{key: value for key, value in filters.items() if value})
    if bbox:
        incidents = incidents.filter(location__coveredby=Polygon.from_bbox(bbox))
    rows = list(incidents[: limit + 1])
    return {
        "type": "FeatureCollection",
        "features": [_incident_feature(incident) for incident in rows[:limit]],
        "limit": limit,
        "truncated": len(rows) > limit,
    }


def _incident_feature(incident):
    properties = incident_data(incident)
    geometry = properties.pop("location")
    return {"type": "Feature", "id": incident.id, "geometry": geometry, "properties": properties}


def incident_tickets(*, user, incident: Incident) -> list[Ticket]:
    """Return the incident's tickets the user may see, oldest first."""
    return list(tickets_visible(user=user).filter(incident=incident).order_by("id"))


def incident_report_result(*, incident: Incident, tickets: list[Ticket]) -> dict:
    """Return the answer to a report: the incident, its tickets and how it was routed."""
    plan = incident.plan
    return {
        "incident": incident_data(incident),
        "tickets": [ticket_data(t) for t in tickets],
        "routing": {
            "plan": plan_data(plan) if plan else None,
            "routes": incident.routing,
            "unassigned_kinds": incident.unassigned_kinds,
            "triage": incident.status == IncidentStatus.TRIAGE or bool(incident.unassigned_kinds),
        },
    }


def incident_detail(*, user, incident_id: int) -> dict:
    """Return one incident with its tickets, feedback and event timeline, as the user may see them."""
    incident = incident_get(user=user, incident_id=incident_id)
    tickets = incident_tickets(user=user, incident=incident)
    feedback = Feedback.objects.filter(ticket__in=tickets).select_related("author").order_by("created_at", "id")
    events = Event.objects.filter(incident=incident).order_by("seq", "id")
    is_operator, subcenter_id = operator_scope(user)
    if is_operator:
        events = events.filter(audience__contains=[subcenter_id])
    return {
        "incident": incident_data(incident),
        "tickets": [ticket_data(t) for t in tickets],
        "feedback": [feedback_data(f) for f in feedback],
        "events": [event_data(e) for e in events],
    }


def incident_nearby_features(*, user, incident_id: int, layer: str, radius_m: float, limit: int = 50) -> dict:
    """Return a layer's features within radius_m of the incident, nearest first, in meters."""
    incident = incident_get(user=user, incident_id=incident_id)
    try:
        features = layer_features_near(
            layer_name=layer, lon=incident.location.x, lat=incident.location.y, radius_m=radius_m, limit=limit
        )
    except Layer.DoesNotExist:
        raise Invalid(ERR_UNKNOWN_LAYER.format(name=layer), field="layer") from None
    return {
        "type": "FeatureCollection", "incident_id": incident.id, "layer": layer, "radius_m": radius_m,
        "features": features,
    }


def incident_addresses_search(*, user, query: str, near=None, limit: int = 10) -> list[dict]:
    """Return the addresses of earlier incidents the user may see that contain `query`, each once, latest first.

    The place search merges them with geo's names (geo knows no incidents). ILIKE, so the
    address's trigram index (pg_trgm) serves it.
    """
    text = query.strip()
    if len(text) < 2:
        return []
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
    rows = (
        incidents_visible(user=user).exclude(address="").extra(where=["dispatch_incident.address ILIKE %s"], params=[pattern])
        .order_by("address", "-reported_at").distinct("address").values_list("id", "address", "location")[:limit]
    )
    return [_address(incident_id, address, location, near) for incident_id, address, location in rows]


def _address(incident_id, address, location, near):
    return {
        "name": address, "kind": "incident_address", "detail": f"incident {incident_id}", "source": "incidents",
        "key": str(incident_id), "location": {"type": "Point", "coordinates": [location.x, location.y]}, "bbox": None,
        "distance_m": distance_m(near, (location.x, location.y)) if near else None,
    }
