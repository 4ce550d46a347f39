"""Reads of incidents: the map list and search, one incident with its timeline, the report's answer, nearby resources."""

import base64
import binascii
import json
import re
from datetime import datetime

from django.contrib.gis.geos import Polygon
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy

from dispatch.errors import Invalid
from dispatch.models import Event, Feedback, Incident, IncidentStatus, Ticket
from dispatch.representations import event_data, feedback_data, incident_data, iso, ticket_data, user_name
from dispatch.selectors.reference import plan_data
from dispatch.selectors.scope import incident_get, incidents_visible, operator_scope, tickets_visible
from geo.models import Jurisdiction, Layer
from geo.selectors import distance_m, layer_features_near

Bbox = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat (WGS 84)

ERR_UNKNOWN_LAYER = gettext_lazy("no layer named {name!r}")
ERR_UNKNOWN_COUNTY = gettext_lazy("no county with the code {code!r}")
ERR_BAD_CURSOR = gettext_lazy("not a cursor this list gave out: pass the `next` of the previous page")
SEARCHED_FIELDS = ("title", "address", "description", "reporter_name", "reporter_phone")


def incident_list_geojson(
    *, user, status: list[str] | None = None, category: list[str] | None = None,
    severity: list[int] | None = None, bbox: Bbox | None = None,
    reported_after: datetime | None = None, reported_before: datetime | None = None, limit: int = 500,
    q: str = "", county: str | None = None, before: str | None = None, count: bool = False,
) -> dict:
    """Return one page of the newest incidents matching the filters as a GeoJSON FeatureCollection.

    Pages are cut by keyset (reported_at, id), newest first: `next` is the cursor of the page
    after this one (None on the last), and `count` (only when asked) counts every match.
    """
    incidents = incidents_visible(user=user).order_by("-reported_at", "-id")
    filters = {
        "status__in": status, "category__code__in": category, "severity__in": severity,
        "reported_at__gte": reported_after, "reported_at__lt": reported_before,
    }
    incidents = incidents.filter(**{key: value for key, value in filters.items() if value})
    if bbox:
        incidents = incidents.filter(location__coveredby=Polygon.from_bbox(bbox))
    if q:
        incidents = incidents.filter(_text_matches(q))
    if county:
        incidents = incidents.filter(_in_county(county))
    page = incidents.filter(_older_than(cursor_read(before))) if before else incidents
    rows = list(page[: limit + 1])
    more = len(rows) > limit
    body = {
        "type": "FeatureCollection",
        "features": [_incident_feature(incident) for incident in rows[:limit]],
        "limit": limit,
        "truncated": more,
        "next": cursor_of(rows[limit - 1]) if more else None,
    }
    if count:
        body["count"] = incidents.count()
    return body


def _text_matches(q):
    """Return the condition: every word of q appears (case-insensitive) in one of the searched fields."""
    condition = Q()
    for word in q.split():
        condition &= Q.create([(f"{field}__icontains", word) for field in SEARCHED_FIELDS], connector=Q.OR)
    return condition


def _in_county(code):
    """Return the condition: the incident's point lies in the county with this code (400 when none)."""
    counties = Jurisdiction.objects.filter(code=code, level=Jurisdiction.Level.COUNTY)
    if not counties.exists():
        raise Invalid(ERR_UNKNOWN_COUNTY.format(code=code), field="county")
    return Exists(counties.filter(geom__covers=OuterRef("location")))


def cursor_of(incident) -> str:
    """Return the opaque cursor that pages on after this incident."""
    raw = json.dumps([incident.reported_at.isoformat(), incident.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_read(cursor: str) -> tuple[datetime, int]:
    """Return the (reported_at, id) a cursor holds, or raise Invalid naming `before`."""
    try:
        at, incident_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(at)
        if not isinstance(incident_id, int) or at.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Invalid(ERR_BAD_CURSOR, field="before") from None
    return at, incident_id


def _older_than(position):
    at, incident_id = position
    return Q(reported_at__lt=at) | Q(reported_at=at, id__lt=incident_id)


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


# ---- the timeline (时间线): who did what, when, for each ticket ------------------------------

def incident_timeline(*, user, incident_id: int) -> dict:
    """Return an incident and its event log as the user may see it, in seq order: who, what, when, which ticket."""
    incident = incident_get(user=user, incident_id=incident_id)
    events = Event.objects.filter(incident=incident).select_related("actor", "ticket__subcenter").order_by("seq")
    is_operator, subcenter_id = operator_scope(user)
    if is_operator:
        events = events.filter(audience__contains=[subcenter_id])
    return {"incident": incident_data(incident), "entries": [timeline_entry(event) for event in events]}


def timeline_entry(event) -> dict:
    """Return one line of the timeline from one event."""
    subcenter = event.ticket.subcenter if event.ticket_id else None
    return {
        "seq": event.seq,
        "at": iso(event.created_at),
        "name": event.name,
        "actor": user_name(event.actor),
        "ticket_id": event.ticket_id,
        "subcenter": {"code": subcenter.code, "name": subcenter.name, "name_en": subcenter.name_en}
        if subcenter else None,
        "summary": event_summary(event.name, event.payload),
    }


def event_summary(name: str, payload: dict) -> dict:
    """Return the fields of an event's payload that matter on a timeline (those it has, not null)."""
    feedback = payload.get("feedback") or {}
    thing = payload.get("ticket") or payload.get("incident") or {}
    found = {
        "reason": payload.get("reason"), "text": feedback.get("text"), "final": feedback.get("final"),
        "status": thing.get("status"), "item": payload.get("item"), "done": payload.get("done"),
        "changes": payload.get("changes"), "level": payload.get("level"),
    }
    if name == "ticket.checked" and payload.get("ticket"):
        checklist = payload["ticket"].get("checklist") or []
        if isinstance(found["item"], int) and 0 <= found["item"] < len(checklist):
            found["item_text"] = checklist[found["item"]]
    return {key: value for key, value in found.items() if value is not None}


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
