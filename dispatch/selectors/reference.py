"""Reference reads: categories and plans, sub-centers with their terminals, the routing preview."""

from django.db.models import Prefetch

from dispatch.errors import Invalid
from dispatch.models import Category, ResponsePlan
from dispatch.plans import plan_for
from dispatch.selectors.presence import subcenter_terminal_health
from geo.models import Jurisdiction, SubCenter, SubCenterKind
from geo.router import route_point

ERR_UNKNOWN_CATEGORY = "unknown category {code!r}"
ERR_UNKNOWN_KINDS = "unknown sub-center kind(s): {kinds}"


def plan_data(plan: ResponsePlan) -> dict:
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
            "plans": [plan_data(plan) for plan in category.plans.all()],
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
        "plan": plan_data(plan) if plan else None,
        "kinds": list(routes),
        "routes": [routing.as_dict() for routing in routes.values()],
        "unassigned_kinds": [kind for kind, routing in routes.items() if not routing.has_owner],
        "triage": not routes or any(not routing.has_owner for routing in routes.values()),
    }
