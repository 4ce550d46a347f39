"""Every read of the dispatch app: scoped by the reader's role, one query per list.

What a user sees (DESIGN §6): a dispatcher, leader or administrator sees everything; an
operator sees only the incidents that have a ticket for their sub-center, only that
sub-center's tickets and feedback, and only the events addressed to it. Anything out of
scope is reported as missing (NotFound), never as forbidden, so its existence does not leak.
"""

from datetime import datetime

from django.contrib.gis.geos import Polygon
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from dispatch import lifecycle
from dispatch.errors import ERR_TICKET_NOT_FOUND, Invalid, NotFound
from dispatch.models import Category, Event, Feedback, Incident, IncidentStatus, ResponsePlan, Ticket, TicketStatus
from dispatch.plans import plan_for
from dispatch.presence import subcenter_terminal_health
from dispatch.representations import TICKET_ACTORS, event_data, feedback_data, incident_data, ticket_data
from dispatch.roles import Role, operator_subcenter_id, user_role
from geo.models import Jurisdiction, Layer, SubCenter, SubCenterKind
from geo.router import route_point
from geo.selectors import layer_features_near

Bbox = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat (WGS 84)

ERR_INCIDENT_NOT_FOUND = "no incident {id}"
ERR_UNKNOWN_LAYER = "no layer named {name!r}"
ERR_UNKNOWN_CATEGORY = "unknown category {code!r}"
ERR_UNKNOWN_KINDS = "unknown sub-center kind(s): {kinds}"

TICKET_RELATED = ("subcenter", *TICKET_ACTORS)


# ---- scope ---------------------------------------------------------------------------


def _operator_scope(user):
    """Return (is an operator, their sub-center id); a role-less user sees nothing."""
    role = user_role(user)
    if role is None:
        return True, None
    if role == Role.OPERATOR:
        return True, operator_subcenter_id(user)
    return False, None


def incidents_visible(*, user):
    """Return the incidents the user may see."""
    incidents = Incident.objects.select_related("category")
    is_operator, subcenter_id = _operator_scope(user)
    if not is_operator:
        return incidents
    own = Ticket.objects.filter(incident=OuterRef("pk"), subcenter_id=subcenter_id)
    return incidents.filter(Exists(own))


def tickets_visible(*, user):
    """Return the tickets the user may see, with what ticket_data needs."""
    tickets = Ticket.objects.select_related(*TICKET_RELATED)
    is_operator, subcenter_id = _operator_scope(user)
    return tickets.filter(subcenter_id=subcenter_id) if is_operator else tickets


def incident_get(*, user, incident_id: int) -> Incident:
    """Return one incident in the user's scope, or raise NotFound."""
    incident = incidents_visible(user=user).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(ERR_INCIDENT_NOT_FOUND.format(id=incident_id), field="incident")
    return incident


def ticket_get(*, user, ticket_id: int) -> Ticket:
    """Return one ticket in the user's scope, or raise NotFound."""
    ticket = tickets_visible(user=user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(ERR_TICKET_NOT_FOUND.format(id=ticket_id), field="ticket")
    return ticket


# ---- incidents -----------------------------------------------------------------------


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


def incident_report_result(*, user, incident: Incident, tickets: list[Ticket] | None = None) -> dict:
    """Return the answer to a report: the incident, its tickets and how it was routed.

    `tickets`: the ones the report just issued, with the incident as the service left it;
    without them (a retry), both are read back.
    """
    if tickets is None:
        incident = incidents_visible(user=user).select_related("plan").get(pk=incident.pk)
        tickets = incident_tickets(user=user, incident=incident)
    plan = incident.plan
    return {
        "incident": incident_data(incident),
        "tickets": [ticket_data(t) for t in tickets],
        "routing": {
            "plan": _plan_data(plan) if plan else None,
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
    is_operator, subcenter_id = _operator_scope(user)
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


# ---- tickets -------------------------------------------------------------------------


def ticket_list(
    *, user, status: list[str] | None = None, incident: int | None = None, subcenter: str | None = None,
    overdue: bool | None = None, limit: int = 500,
) -> dict:
    """Return the newest tickets the user may see, filtered."""
    tickets = tickets_visible(user=user).order_by("-issued_at", "-id")
    if status:
        tickets = tickets.filter(status__in=status)
    if incident is not None:
        tickets = tickets.filter(incident_id=incident)
    if subcenter:
        tickets = tickets.filter(subcenter__code=subcenter)
    if overdue is not None:
        tickets = tickets.filter(overdue=overdue)
    rows = list(tickets[: limit + 1])
    return {"tickets": [ticket_data(t) for t in rows[:limit]], "limit": limit, "truncated": len(rows) > limit}


# ---- reference data ------------------------------------------------------------------


def _plan_data(plan: ResponsePlan) -> dict:
    return {
        "id": plan.id,
        "name": plan.name,
        "severity_min": plan.severity_min,
        "severity_max": plan.severity_max,
        "kinds": [kind.code for kind in plan.kinds.all()],
        "deadlines": plan.deadlines(),
        "checklist": plan.checklist,
    }


def categories_list() -> list[dict]:
    """Return every incident category with its national class and response plans."""
    plans = Prefetch("plans", queryset=ResponsePlan.objects.prefetch_related("kinds").order_by("severity_min", "id"))
    categories = Category.objects.prefetch_related(plans).order_by("national_class", "code")
    return [
        {
            "code": category.code,
            "name": category.name,
            "name_en": category.name_en,
            "national_class": category.national_class,
            "national_class_name": category.get_national_class_display(),
            "plans": [_plan_data(plan) for plan in category.plans.all()],
        }
        for category in categories
    ]


def subcenters_list() -> list[dict]:
    """Return every sub-center with its kind, covered jurisdictions, duty phone and terminal health."""
    coverage = Prefetch("jurisdictions", queryset=Jurisdiction.objects.only("id", "code").order_by("code"))
    subcenters = list(SubCenter.objects.select_related("kind").prefetch_related(coverage).order_by("code"))
    health = subcenter_terminal_health([subcenter.id for subcenter in subcenters])
    return [
        {
            "id": subcenter.id,
            "code": subcenter.code,
            "name": subcenter.name,
            "name_en": subcenter.name_en,
            "kind": subcenter.kind.code,
            "kind_name": subcenter.kind.name,
            "duty_phone": subcenter.duty_phone,
            "active": subcenter.active,
            "priority": subcenter.priority,
            "jurisdictions": [j.code for j in subcenter.jurisdictions.all()],
            "coverage_area_m2": subcenter.coverage_area_m2,
            "terminal": health[subcenter.id],
        }
        for subcenter in subcenters
    ]


# ---- routing preview -----------------------------------------------------------------


def route_preview(
    *, lon: float, lat: float, category: str | None = None, severity: int | None = None,
    kinds: list[str] | None = None,
) -> dict:
    """Return who would receive an incident here, per kind, and why (nothing is written)."""
    plan = None
    if category is not None:
        category_obj = Category.objects.filter(code=category).first()
        if category_obj is None:
            raise Invalid(ERR_UNKNOWN_CATEGORY.format(code=category), field="category")
        plan = plan_for(category=category_obj, severity=severity)
        kinds = [kind.code for kind in plan.kinds.all()] if plan else []
    else:
        known = set(SubCenterKind.objects.filter(code__in=kinds).values_list("code", flat=True))
        unknown = [kind for kind in kinds if kind not in known]
        if unknown:
            raise Invalid(ERR_UNKNOWN_KINDS.format(kinds=", ".join(unknown)), field="kinds")
    routes = route_point(lon=lon, lat=lat, kinds=kinds) if kinds else {}
    return {
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "plan": _plan_data(plan) if plan else None,
        "kinds": list(routes),
        "routes": [routing.as_dict() for routing in routes.values()],
        "unassigned_kinds": [kind for kind, routing in routes.items() if not routing.has_owner],
        "triage": not routes or any(not routing.has_owner for routing in routes.values()),
    }


# ---- dashboard -----------------------------------------------------------------------


def _counts(queryset, field, keys=()):
    counts = dict.fromkeys(keys, 0)
    for row in queryset.values(field).annotate(n=Count("id")).order_by(field):
        counts[row[field]] = row["n"]
    return counts


def dashboard_figures(*, now: datetime | None = None) -> dict:
    """Return the live figures for leaders: what is open, where, how severe, what is late."""
    now = now or timezone.now()
    incidents = Incident.objects.all()
    open_incidents = incidents.exclude(status=IncidentStatus.CLOSED)
    late = Ticket.objects.filter(status__in=lifecycle.OPEN).filter(Q(overdue=True) | Q(due_at__lt=now))
    return {
        "generated_at": now.isoformat(),
        "incidents": {
            "total": incidents.count(),
            "open": open_incidents.count(),
            "by_status": _counts(incidents, "status", IncidentStatus.values),
            "open_by_category": _counts(open_incidents, "category__code"),
            "open_by_severity": {str(k): v for k, v in _counts(open_incidents, "severity", (1, 2, 3, 4)).items()},
        },
        "tickets": {
            "by_status": _counts(Ticket.objects.all(), "status", TicketStatus.values),
            "overdue_now": late.count(),
            "overdue_by_subcenter": _counts(late, "subcenter__code"),
        },
    }
