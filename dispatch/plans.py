"""Response plans (预案): which plan applies, which kinds it dispatches."""

from dispatch.models import Category, ResponsePlan

DEFAULT_DEADLINES = {"deliver_s": 10, "accept_s": 60, "confirm_s": 60, "feedback_s": 1800}


def plan_for(*, category, severity):
    """Return the narrowest plan of a category covering a severity, or None."""
    plans = ResponsePlan.objects.filter(
        category=category, severity_min__lte=severity, severity_max__gte=severity
    ).prefetch_related("kinds")
    return min(plans, key=lambda p: (p.severity_max - p.severity_min, p.id), default=None)


def plan_kinds(*, category, severity):
    """Return the kinds a category's plan co-dispatches at a severity (None: unknown category)."""
    found = Category.objects.filter(code=category).first()
    if found is None:
        return None
    plan = plan_for(category=found, severity=severity)
    return [kind.code for kind in plan.kinds.all()] if plan else []
