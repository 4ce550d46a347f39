"""Every SQL statement of the geo app written by hand, each named for what it does.

Routing and nearness are spatial queries the ORM cannot say as tightly (ST_Covers with a fixed
tie-break, nearest on the spheroid within a tolerance, many points at once).
"""

# ---- routing -----------------------------------------------------------------------------

# The owner's English name and duty phone come last: a ticket shows them (ticket_data) without another query.
_COLUMNS = """sc.kind_id, sc.id, sc.code, sc.name, sc.priority, sc.coverage_area_m2, j.code, j.name, sc.name_en, sc.duty_phone"""
_FROM = """
    FROM geo_jurisdiction j
    JOIN geo_subcenter_jurisdictions sj ON sj.jurisdiction_id = j.id
    JOIN geo_subcenter sc ON sc.id = sj.subcenter_id
"""
# Codes compare byte-wise (COLLATE "C"), as Python sorts them in geo.bulk, whatever the
# database's collation; the jurisdiction code settles which one of an owner's is reported.
_ORDER = 'sc.priority DESC, sc.coverage_area_m2 ASC, sc.code COLLATE "C" ASC, j.code COLLATE "C" ASC'

ROUTE_COVERING = f"""
    SELECT {_COLUMNS}
    {_FROM}
    WHERE sc.active AND sc.kind_id = ANY(%(kinds)s)
      AND ST_Covers(j.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
    ORDER BY sc.kind_id, {_ORDER}
"""

ROUTE_NEAREST = f"""
    SELECT * FROM (
        SELECT DISTINCT ON (p.i, sc.kind_id) p.i, {_COLUMNS}, ST_Distance(j.geom::geography, p.pt::geography) AS d
        FROM (
            SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt, deg
            FROM unnest(%(ids)s::int[], %(lons)s::float8[], %(lats)s::float8[], %(degrees)s::float8[])
                 AS u(i, lon, lat, deg)
        ) p
        JOIN geo_jurisdiction j ON ST_DWithin(j.geom, p.pt, p.deg)
        JOIN geo_subcenter_jurisdictions sj ON sj.jurisdiction_id = j.id
        JOIN geo_subcenter sc ON sc.id = sj.subcenter_id
        WHERE sc.active AND sc.kind_id = ANY(%(kinds)s)
        ORDER BY p.i, sc.kind_id, ST_Distance(j.geom::geography, p.pt::geography), {_ORDER}
    ) nearest WHERE d <= %(meters)s
"""


# A sub-center's distance in meters from a point to the nearest of its jurisdictions (NULL without one),
# as a column of a sub-center query (geo_subcenter in the outer FROM).
SUBCENTER_DISTANCE_M = """
    SELECT min(ST_Distance(j.geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography))
    FROM geo_subcenter_jurisdictions sj JOIN geo_jurisdiction j ON j.id = sj.jurisdiction_id
    WHERE sj.subcenter_id = geo_subcenter.id
"""


# Every coverage polygon of some kinds, for the in-process bulk router (geo.bulk).
COVERAGE_POLYGONS = """
    SELECT sc.kind_id, sc.id, sc.priority, sc.coverage_area_m2, sc.code, j.id, ST_AsBinary(j.geom)
    FROM geo_subcenter sc
    JOIN geo_subcenter_jurisdictions sj ON sj.subcenter_id = sc.id
    JOIN geo_jurisdiction j ON j.id = sj.jurisdiction_id
    WHERE sc.active AND sc.kind_id = ANY(%s)
"""

# ---- layers --------------------------------------------------------------------------------

# A layer's features within a radius, nearest first: the GiST index narrows by a box in
# degrees at least as wide, the spheroid decides.
FEATURES_NEAR = """
    WITH here AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS point)
    SELECT f.key, f.name, f.properties, ST_AsGeoJSON(f.geom, %(decimals)s),
           ST_Distance(f.geom::geography, here.point::geography) AS distance_m
    FROM geo_feature f, here
    WHERE f.layer_id = %(layer)s
      AND ST_DWithin(f.geom, here.point, %(degrees)s)
      AND ST_DWithin(f.geom::geography, here.point::geography, %(meters)s)
    ORDER BY distance_m, f.key
    LIMIT %(limit)s
"""

# ---- import --------------------------------------------------------------------------------

# Planner statistics: right after a bulk import, routing is 40× slower without them.
ANALYZE_ROUTING_TABLES = "ANALYZE geo_jurisdiction, geo_subcenter, geo_subcenter_jurisdictions"

JURISDICTION_AREAS = "UPDATE geo_jurisdiction SET area_m2 = ST_Area(geom::geography) WHERE id = ANY(%s)"

# The coverage area of every sub-center covering these jurisdictions, in one statement.
SUBCENTER_COVERAGE_AREAS = """
    UPDATE geo_subcenter sc SET coverage_area_m2 = COALESCE((
        SELECT SUM(j.area_m2) FROM geo_subcenter_jurisdictions sj
        JOIN geo_jurisdiction j ON j.id = sj.jurisdiction_id
        WHERE sj.subcenter_id = sc.id), 0)
    WHERE sc.id IN (SELECT subcenter_id FROM geo_subcenter_jurisdictions WHERE jurisdiction_id = ANY(%s))
"""
