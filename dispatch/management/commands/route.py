"""Print who would receive an incident at a point, and why."""

import json

from django.core.management.base import BaseCommand, CommandError

from dispatch.plans import plan_kinds
from geo.models import SubCenterKind
from geo.router import route_point


class Command(BaseCommand):
    help = "Print who would receive an incident at LON LAT (WGS 84), and why."

    def add_arguments(self, parser):
        parser.add_argument("lon", type=float)
        parser.add_argument("lat", type=float)
        parser.add_argument("--kinds", help="comma-separated sub-center kinds (default: all kinds)")
        parser.add_argument("--category", help="incident category code (uses its response plan)")
        parser.add_argument("--severity", type=int, choices=[1, 2, 3, 4])
        parser.add_argument("--json", action="store_true", help="print the explanation as JSON")

    def handle(self, *args, lon, lat, **options):
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise CommandError("LON must be within -180..180 and LAT within -90..90")
        kinds = self.kinds(options)
        routes = route_point(lon=lon, lat=lat, kinds=kinds)
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in routes.values()], ensure_ascii=False, indent=2))
            return
        for routing in routes.values():
            self.stdout.write(describe(routing))

    def kinds(self, options):
        if options["category"]:
            kinds = plan_kinds(category=options["category"], severity=options["severity"] or 4)
            if kinds is None:
                raise CommandError(f"unknown category {options['category']!r}")
            if not kinds:
                raise CommandError(f"no response plan for {options['category']}: the command center assigns by hand")
            return kinds
        known = list(SubCenterKind.objects.values_list("code", flat=True))
        if not options["kinds"]:
            return known
        kinds = [k.strip() for k in options["kinds"].split(",") if k.strip()]
        unknown = sorted(set(kinds) - set(known))
        if unknown:
            raise CommandError(f"unknown kind(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return kinds


def describe(routing):
    """Return one line saying who receives a kind's ticket and why."""
    if not routing.has_owner:
        return f"{routing.kind:<18} no owner → triage (no coverage of this kind within tolerance)"
    why = {
        "covered": f"point inside {routing.jurisdiction_name} ({routing.jurisdiction_code})",
        "overlap": (
            f"{routing.candidates} coverages contain the point; decided by {routing.decided_by}; "
            f"matched {routing.jurisdiction_name} ({routing.jurisdiction_code})"
        ),
        "nearest_within_tolerance": (
            f"point outside every coverage, {routing.distance_m} m from "
            f"{routing.jurisdiction_name} ({routing.jurisdiction_code}), within tolerance"
        ),
    }[routing.rule]
    return f"{routing.kind:<18} {routing.subcenter_name} ({routing.subcenter_code}) — {routing.rule}: {why}"
