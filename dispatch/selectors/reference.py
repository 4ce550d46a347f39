"""Reference reads: categories and plans, sub-centers with their terminals, the routing preview."""

from django.db.models import F, Prefetch
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy

from dispatch.errors import Invalid
from dispatch.models import Category, ResponsePlan
from dispatch.plans import plan_for
from dispatch.selectors.presence import subcenter_terminal_health
from geo import sql as geo_sql
from geo.models import Jurisdiction, SubCenter, SubCenterKind
from geo.router import route_point

ERR_UNKNOWN_CATEGORY = gettext_lazy("unknown category {code!r}")
ERR_UNKNOWN_KINDS = gettext_lazy("unknown sub-center kind(s): {kinds}")


def plan_data(plan: ResponsePlan) -> dict:
    return {
        "id": plan.id,
        "name": plan.name,
        "name_en": plan.name_en,
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
            "plans": [plan_data(plan) for plan in category.plans.all()],
        }
        for category in categories
    ]


def subcenters_list(*, kind: str | None = None, near: tuple[float, float] | None = None) -> list[dict]:
    """Return the sub-centers (of one kind) with kind, coverage, duty phone and terminal health.

    Near a point (lon, lat), each carries distance_m to the nearest of its jurisdictions and they
    come nearest first, those without a jurisdiction last; else by code.
    """
    coverage = Prefetch("jurisdictions", queryset=Jurisdiction.objects.only("id", "code").order_by("code"))
    subcenters = SubCenter.objects.select_related("kind").prefetch_related(coverage).order_by("code")
    if kind is not None:
        if not SubCenterKind.objects.filter(code=kind).exists():
            raise Invalid(ERR_UNKNOWN_KINDS.format(kinds=kind), field="kind")
        subcenters = subcenters.filter(kind_id=kind)
    if near is not None:
        subcenters = subcenters.annotate(distance_m=RawSQL(geo_sql.SUBCENTER_DISTANCE_M, near)).order_by(
            F("distance_m").asc(nulls_last=True), "code"
        )
    subcenters = list(subcenters)
    health = subcenter_terminal_health([subcenter.id for subcenter in subcenters])
    return [_subcenter_row(subcenter, health[subcenter.id], near is not None) for subcenter in subcenters]


def _subcenter_row(subcenter, terminal, with_distance):
    row = {
        "id": subcenter.id,
        "code": subcenter.code,
        "name": subcenter.name,
        "name_en": subcenter.name_en,
        "kind": subcenter.kind.code,
        "kind_name": subcenter.kind.name,
        "kind_name_en": subcenter.kind.name_en,
        "duty_phone": subcenter.duty_phone,
        "active": subcenter.active,
        "priority": subcenter.priority,
        "jurisdictions": [j.code for j in subcenter.jurisdictions.all()],
        "coverage_area_m2": subcenter.coverage_area_m2,
        "terminal": terminal,
    }
    if with_distance:
        distance = subcenter.distance_m
        row["distance_m"] = None if distance is None else round(distance, 1)
    return row


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
    owners = [routing.subcenter_id for routing in routes.values() if routing.has_owner]
    health = subcenter_terminal_health(owners) if owners else {}
    unassigned = [kind for kind, routing in routes.items() if not routing.has_owner]
    return {
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "plan": plan_data(plan) if plan else None,
        "kinds": list(routes),
        "routes": [_preview_row(routing, health) for routing in routes.values()],
        "unassigned_kinds": unassigned,
        "missing_kinds": _kinds_named(unassigned),
        "triage": not routes or bool(unassigned),
    }


def _preview_row(routing, health):
    """Return the router's answer for one kind, with the receiver's English name and terminal state."""
    row = routing.as_dict()
    if routing.has_owner:
        terminal = health[routing.subcenter_id]
        row["subcenter_name_en"] = routing.subcenter_name_en or ""
        row["terminal"] = {"online": terminal["online"], "audio_armed": terminal["audio_armed"]}
    return row


def _kinds_named(codes):
    """Return these sub-center kinds as {code, name, name_en}, in the order given."""
    if not codes:
        return []
    kinds = SubCenterKind.objects.in_bulk(codes, field_name="code")
    return [{"code": code, "name": kinds[code].name, "name_en": kinds[code].name_en} for code in codes if code in kinds]
