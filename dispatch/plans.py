"""Response plans (预案): which plan applies, which kinds it dispatches."""

import threading
import time
from collections import defaultdict

from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from dispatch.models import Category, ResponsePlan

DEFAULT_DEADLINES = {"deliver_s": 10, "accept_s": 60, "confirm_s": 60, "feedback_s": 1800}


PLANS_CACHE_S = 10  # an edit made in another process applies here within this


class _Plans:
    """Categories and plans, read once and kept for a few seconds: every report needs them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.read_at = -PLANS_CACHE_S
        self.categories, self.plans = {}, {}

    def forget(self, **kwargs):
        self.read_at = -PLANS_CACHE_S

    def current(self):
        with self.lock:
            if time.monotonic() - self.read_at >= PLANS_CACHE_S:
                self.read_at = time.monotonic()
                self.categories = {c.code: c for c in Category.objects.all()}
                self.plans = defaultdict(list)
                for plan in ResponsePlan.objects.prefetch_related("kinds"):
                    list(plan.kinds.all())
                    self.plans[plan.category_id].append(plan)
            return self.categories, self.plans


_plans = _Plans()
for _model in (Category, ResponsePlan):
    post_save.connect(_plans.forget, sender=_model, dispatch_uid=f"plans-save-{_model.__name__}")
    post_delete.connect(_plans.forget, sender=_model, dispatch_uid=f"plans-delete-{_model.__name__}")
m2m_changed.connect(_plans.forget, sender=ResponsePlan.kinds.through, dispatch_uid="plans-kinds")
post_migrate.connect(_plans.forget, dispatch_uid="plans-migrate")  # also sent by flush


def category_by_code(code):
    """Return the category with this code, or None."""
    return _plans.current()[0].get(code)


def plan_for(*, category, severity):
    """Return the narrowest plan of a category covering a severity, or None."""
    plans = [p for p in _plans.current()[1].get(category.id, ()) if p.severity_min <= severity <= p.severity_max]
    return min(plans, key=lambda p: (p.severity_max - p.severity_min, p.id), default=None)


def plan_kinds(*, category, severity):
    """Return the kinds a category's plan co-dispatches at a severity (None: unknown category)."""
    found = category_by_code(category)
    if found is None:
        return None
    plan = plan_for(category=found, severity=severity)
    return [kind.code for kind in plan.kinds.all()] if plan else []
