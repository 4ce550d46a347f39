"""Who is responsible for this point? The PostGIS router, with its explanation.

For each requested sub-center kind:
1. the active sub-centers of that kind whose coverage covers the point (ST_Covers on the
   jurisdictions' GiST index; a point on a shared border is covered by both sides);
2. several → the higher priority wins, then the smaller coverage (more specific), then
   the lower code: a fixed rule, so a border point always goes to the same owner;
3. none → the nearest coverage within the tolerance (meters on the spheroid);
4. still none → no owner: the caller puts the incident in triage.
"""

import math
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import connection

from geo import sql


class Rule:
    COVERED = "covered"
    OVERLAP = "overlap"
    NEAREST = "nearest_within_tolerance"
    NO_OWNER = "no_owner"


OWNER_DETAILS = ("subcenter_name_en", "subcenter_duty_phone")


@dataclass(frozen=True)
class Routing:
    """The answer for one kind, and why: stored on each ticket as its routing explanation."""

    kind: str
    rule: str
    subcenter_id: int | None = None
    subcenter_code: str | None = None
    subcenter_name: str | None = None
    jurisdiction_code: str | None = None
    jurisdiction_name: str | None = None
    candidates: int = 0
    decided_by: str | None = None  # for overlaps: priority, smaller_coverage or code
    distance_m: float | None = None  # for nearest_within_tolerance
    # What a ticket shows of its owner, kept out of the stored explanation (as_dict).
    subcenter_name_en: str | None = field(default=None, compare=False)
    subcenter_duty_phone: str | None = field(default=None, compare=False)

    @property
    def has_owner(self):
        return self.subcenter_id is not None

    def as_dict(self):
        return {key: value for key, value in asdict(self).items() if value is not None and key not in OWNER_DETAILS}


def tolerance_degrees(lat, meters):
    """Return a distance in degrees that is at least `meters` anywhere around latitude `lat`.

    geo.bulk computes the same bound on arrays.
    """
    return meters / (110_574.0 * max(math.cos(math.radians(abs(lat) + 1)), 0.01))


def route_point(*, lon: float, lat: float, kinds: list[str], tolerance_m: float | None = None):
    """Return {kind: Routing} for a WGS 84 point and the sub-center kinds a plan asks for."""
    tolerance_m = settings.ROUTING_TOLERANCE_M if tolerance_m is None else tolerance_m
    kinds = list(dict.fromkeys(kinds))
    params = {"lon": lon, "lat": lat, "kinds": kinds}
    with connection.cursor() as cursor:
        cursor.execute(sql.ROUTE_COVERING, params)
        routes = choose_covering(cursor.fetchall())
        missing = [kind for kind in kinds if kind not in routes]
        if missing and tolerance_m > 0:
            routes.update(route_nearest(cursor, lon, lat, missing, tolerance_m))
    return {kind: routes.get(kind) or Routing(kind=kind, rule=Rule.NO_OWNER) for kind in kinds}


def choose_covering(rows):
    """Return {kind: Routing} from covering rows already sorted by kind and precedence."""
    by_kind = {}
    for row in rows:
        candidates = by_kind.setdefault(row[0], [])
        if all(row[1] != seen[1] for seen in candidates):  # one sub-center, two jurisdictions
            candidates.append(row)
    return {kind: _covering_routing(candidates) for kind, candidates in by_kind.items()}


def _covering_routing(candidates):
    winner = candidates[0]
    decided_by = None
    if len(candidates) > 1:
        runner_up = candidates[1]
        if winner[4] != runner_up[4]:
            decided_by = "priority"
        elif winner[5] != runner_up[5]:
            decided_by = "smaller_coverage"
        else:
            decided_by = "code"
    return Routing(
        kind=winner[0], rule=Rule.OVERLAP if decided_by else Rule.COVERED,
        subcenter_id=winner[1], subcenter_code=winner[2], subcenter_name=winner[3],
        jurisdiction_code=winner[6], jurisdiction_name=winner[7],
        candidates=len(candidates), decided_by=decided_by, subcenter_name_en=winner[8], subcenter_duty_phone=winner[9],
    )


def route_nearest(cursor, lon, lat, kinds, tolerance_m):
    """Return {kind: Routing} for the nearest coverage within tolerance_m, per kind."""
    return {kind: routing for (_, kind), routing in nearest_many(cursor, [(0, lon, lat)], kinds, tolerance_m).items()}


def nearest_many(cursor, points, kinds, tolerance_m):
    """Return {(point id, kind): Routing} for many (id, lon, lat) points in one query."""
    ids, lons, lats = (list(column) for column in zip(*points)) if points else ([], [], [])
    cursor.execute(
        sql.ROUTE_NEAREST,
        {
            "ids": ids, "lons": lons, "lats": lats, "kinds": list(kinds), "meters": tolerance_m,
            "degrees": [tolerance_degrees(lat, tolerance_m) for lat in lats],
        },
    )
    return {
        (row[0], row[1]): Routing(
            kind=row[1], rule=Rule.NEAREST, subcenter_id=row[2], subcenter_code=row[3],
            subcenter_name=row[4], jurisdiction_code=row[7], jurisdiction_name=row[8],
            candidates=1, distance_m=round(row[11], 1), subcenter_name_en=row[9], subcenter_duty_phone=row[10],
        )
        for row in cursor.fetchall()
    }
