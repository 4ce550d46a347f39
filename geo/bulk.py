"""Route many points at once in process: Shapely STRtree over the coverage polygons.

Gives the same answer as geo.router (a differential test holds it to that): the same
ST_Covers semantics (GEOS ``covers``), the same precedence (priority, smaller coverage,
code). Points that no coverage contains are handed to the PostGIS router's nearest-within-
tolerance query, so distances are measured on the same spheroid.
"""

from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.db import connection

from geo import sql
from geo.router import Rule, nearest_many

NO_OWNER = -1
RULE_DTYPE = f"<U{max(len(r) for r in (Rule.COVERED, Rule.OVERLAP, Rule.NEAREST, Rule.NO_OWNER))}"

@dataclass
class BulkRoutes:
    """Per kind, the sub-center id for each point (NO_OWNER for none) and the rule applied."""

    subcenter_ids: dict[str, np.ndarray]
    rules: dict[str, np.ndarray]


class CoverageIndex:
    """The coverage polygons of some kinds, prepared for fast point-in-polygon tests."""

    def __init__(self, kinds):
        self.kinds = list(dict.fromkeys(kinds))
        with connection.cursor() as cursor:
            cursor.execute(sql.COVERAGE_POLYGONS, [self.kinds])
            rows = cursor.fetchall()
        # Precedence within a kind, exactly as the PostGIS router orders: priority desc,
        # coverage area asc, code asc.
        rows.sort(key=lambda r: (r[0], -r[2], r[3], r[4]))
        jurisdiction_ids = sorted({r[5] for r in rows})
        position = {jid: i for i, jid in enumerate(jurisdiction_ids)}
        wkb = {r[5]: bytes(r[6]) for r in rows}
        self.polygons = shapely.from_wkb([wkb[jid] for jid in jurisdiction_ids])
        shapely.prepare(self.polygons)
        self.tree = shapely.STRtree(self.polygons)
        kind_number = {kind: i for i, kind in enumerate(self.kinds)}
        self.entry_kind = np.array([kind_number[r[0]] for r in rows], dtype=np.int64)
        self.entry_subcenter = np.array([r[1] for r in rows], dtype=np.int64)
        self.entry_polygon = np.array([position[r[5]] for r in rows], dtype=np.int64)
        self.entry_rank = np.arange(len(rows), dtype=np.int64)  # rows are in precedence order
        self.entry_order = np.argsort(self.entry_polygon, kind="stable")
        self.entry_polygon_sorted = self.entry_polygon[self.entry_order]
        self.subcenter_count = len(set(self.entry_subcenter.tolist()))
        self.entry_subcenter_index = np.unique(self.entry_subcenter, return_inverse=True)[1]

    def covering(self, lons, lats):
        """Return (point index, polygon index) pairs where the polygon covers the point.

        For a point, covers and intersects agree (its one position is inside or on the
        boundary); intersects_xy tests coordinates against the prepared polygons directly.
        """
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        point_idx, polygon_idx = self.tree.query(shapely.points(lons, lats))
        inside = shapely.intersects_xy(self.polygons[polygon_idx], lons[point_idx], lats[point_idx])
        return point_idx[inside], polygon_idx[inside]

    def route(self, lons, lats, *, tolerance_m=None) -> BulkRoutes:
        """Return the owner of every point for every kind."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        n, k = len(lons), len(self.kinds)
        best = np.full((n, k), np.iinfo(np.int64).max, dtype=np.int64)
        count = np.zeros((n, k), dtype=np.int64)
        point_idx, polygon_idx = self.covering(lons, lats)
        pair_point, entry = self._entries_of(point_idx, polygon_idx)
        np.minimum.at(best, (pair_point, self.entry_kind[entry]), self.entry_rank[entry])
        has_owner = best < len(self.entry_rank)
        owner = np.full((n, k), NO_OWNER, dtype=np.int64)
        owner[has_owner] = self.entry_subcenter[best[has_owner]]
        rules = np.where(owner != NO_OWNER, Rule.COVERED, Rule.NO_OWNER).astype(RULE_DTYPE)
        self._mark_overlaps(rules, count, pair_point, entry)
        self._nearest(lons, lats, owner, rules, tolerance_m)
        return BulkRoutes(
            subcenter_ids={kind: owner[:, i] for i, kind in enumerate(self.kinds)},
            rules={kind: rules[:, i] for i, kind in enumerate(self.kinds)},
        )

    def _entries_of(self, point_idx, polygon_idx):
        """Expand (point, polygon) pairs to (point, coverage entry) pairs."""
        order, by_polygon = self.entry_order, self.entry_polygon_sorted
        starts = np.searchsorted(by_polygon, polygon_idx, side="left")
        ends = np.searchsorted(by_polygon, polygon_idx, side="right")
        lengths = ends - starts
        pair_point = np.repeat(point_idx, lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        entry = order[np.repeat(starts, lengths) + offsets]
        return pair_point, entry

    def _mark_overlaps(self, rules, count, pair_point, entry):
        # Count distinct sub-centers per (point, kind): one sub-center covering the point
        # through two of its own jurisdictions is not an overlap. One int64 key per triple.
        kinds, subcenters = len(self.kinds), max(self.subcenter_count, 1)
        key = (pair_point * kinds + self.entry_kind[entry]) * subcenters + self.entry_subcenter_index[entry]
        point_kind = np.unique(key) // subcenters
        np.add.at(count, (point_kind // kinds, point_kind % kinds), 1)
        rules[count > 1] = Rule.OVERLAP

    def _nearest(self, lons, lats, owner, rules, tolerance_m):
        tolerance_m = settings.ROUTING_TOLERANCE_M if tolerance_m is None else tolerance_m
        if tolerance_m <= 0:
            return
        unowned = np.flatnonzero((owner == NO_OWNER).any(axis=1))
        near = self.tree.query(
            shapely.points(lons[unowned], lats[unowned]), predicate="dwithin",
            distance=tolerance_m / (110_574.0 * np.maximum(np.cos(np.radians(np.abs(lats[unowned]) + 1)), 0.01)),
        )[0]
        unowned = unowned[np.unique(near)]
        if not len(unowned):
            return
        points = [(int(i), float(lons[i]), float(lats[i])) for i in unowned]
        with connection.cursor() as cursor:
            found = nearest_many(cursor, points, self.kinds, tolerance_m)
        for (i, kind), routing in found.items():
            j = self.kinds.index(kind)
            if owner[i, j] == NO_OWNER:
                owner[i, j] = routing.subcenter_id
                rules[i, j] = Rule.NEAREST
