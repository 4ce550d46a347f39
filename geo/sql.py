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

# ---- base map ------------------------------------------------------------------------------

# DELETE, not TRUNCATE: readers keep the previous base map until the import commits.
BASEMAP_DELETE = "DELETE FROM geo_basemapfeature"
BASEMAP_COPY = "COPY geo_basemapfeature (layer, kind, name, min_zoom, osm_id, geom) FROM STDIN"
BASEMAP_BOUNDS = """
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(geom) AS e FROM geo_basemapfeature) extent WHERE e IS NOT NULL
"""
ANALYZE_BASEMAP = "ANALYZE geo_basemapfeature, geo_placename, geo_placeprefix"

# ---- vector tiles --------------------------------------------------------------------------

# The tile set's version and the tile cached under it (NULL when not cached); version 0 when
# the tile set has no row yet.
TILE_CACHED = """
    SELECT v.version, c.tile
    FROM (SELECT COALESCE((SELECT version FROM geo_tileset WHERE name = %(tileset)s), 0) AS version) v
    LEFT JOIN geo_cachedtile c ON c.tileset = %(tileset)s AND c.version = v.version
         AND c.z = %(z)s AND c.x = %(x)s AND c.y = %(y)s
"""
TILE_STORE = """
    INSERT INTO geo_cachedtile (tileset, version, z, x, y, tile)
    VALUES (%(tileset)s, %(version)s, %(z)s, %(x)s, %(y)s, %(tile)s)
    ON CONFLICT (tileset, version, z, x, y) DO NOTHING
"""
# A new version, and the cached tiles of every older one gone, in the caller's transaction.
TILESET_BUMP = """
    WITH bumped AS (
        INSERT INTO geo_tileset (name, version) VALUES (%(tileset)s, 1)
        ON CONFLICT (name) DO UPDATE SET version = geo_tileset.version + 1
        RETURNING version
    ), gone AS (
        DELETE FROM geo_cachedtile WHERE tileset = %(tileset)s AND version < (SELECT version FROM bumped)
    )
    SELECT version FROM bumped
"""

# The tile's envelope in Web Mercator and in WGS 84 (the columns' SRID, so the GiST index
# applies), and the simplification tolerance: half a screen pixel at this zoom, in degrees.
_TILE_BOUNDS = """
    bounds AS (
        SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc,
               ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 1.0 / 64), 4326) AS wgs,
               360.0 / (1024 * 2 ^ %(z)s) AS tolerance
    )
"""


def _mvt_geom(column="geom"):
    return (f"ST_AsMVTGeom(ST_Transform(ST_Simplify({column}, bounds.tolerance, true), 3857), "
            "bounds.merc, 4096, 64, true) AS geom")


def _basemap_layer(name, layers, columns):
    return f"""
    {name} AS (
        SELECT {_mvt_geom('f.geom')}, {columns}
        FROM geo_basemapfeature f, bounds
        WHERE f.layer IN ({layers}) AND f.min_zoom <= %(z)s AND f.geom && bounds.wgs
    )"""


# One tile of the base map: source-layers roads, water (areas and waterways), landuse,
# buildings, places, pois. Each class appears from its min_zoom (geo/osm.py).
BASEMAP_TILE = f"""
    WITH {_TILE_BOUNDS},
    {_basemap_layer("roads", "'roads'", "f.kind, f.name")},
    {_basemap_layer("water", "'water', 'waterways'", "f.kind, f.name, f.layer")},
    {_basemap_layer("landuse", "'landuse'", "f.kind, f.name")},
    {_basemap_layer("buildings", "'buildings'", "f.name")},
    {_basemap_layer("places", "'places'", "f.kind, f.name")},
    {_basemap_layer("pois", "'pois'", "f.kind, f.name")}
    SELECT COALESCE((SELECT ST_AsMVT(landuse, 'landuse') FROM landuse WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(water, 'water') FROM water WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(roads, 'roads') FROM roads WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(buildings, 'buildings') FROM buildings WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(places, 'places') FROM places WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(pois, 'pois') FROM pois WHERE geom IS NOT NULL), '')
"""

# One tile of our own data: jurisdictions (outlines clipped to the tile before simplifying:
# a county has thousands of vertices), their label points (from the gazetteer), and every
# layer's features. Incidents are not tiled: they are per-user and change every second.
OURS_TILE = f"""
    WITH {_TILE_BOUNDS},
    jurisdictions AS (
        SELECT {_mvt_geom('ST_ClipByBox2D(j.geom, bounds.wgs)')}, j.code, j.name, j.level
        FROM geo_jurisdiction j, bounds WHERE j.geom && bounds.wgs
    ),
    jurisdiction_labels AS (
        SELECT {_mvt_geom('p.location')}, p.source_key AS code, p.name, p.detail AS level
        FROM geo_placename p, bounds
        WHERE p.source = 'jurisdictions' AND p.location && bounds.wgs
    ),
    features AS (
        SELECT {_mvt_geom('f.geom')}, l.name AS layer, f.key, f.name
        FROM geo_feature f JOIN geo_layer l ON l.id = f.layer_id, bounds WHERE f.geom && bounds.wgs
    )
    SELECT COALESCE((SELECT ST_AsMVT(jurisdictions, 'jurisdictions') FROM jurisdictions WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(jurisdiction_labels, 'jurisdiction_labels') FROM jurisdiction_labels
                     WHERE geom IS NOT NULL), '')
        || COALESCE((SELECT ST_AsMVT(features, 'features') FROM features WHERE geom IS NOT NULL), '')
"""

# ---- gazetteer -----------------------------------------------------------------------------

PLACENAMES_DELETE = "DELETE FROM geo_placename WHERE source = ANY(%s)"
PLACENAMES_DELETE_LIKE = "DELETE FROM geo_placename WHERE source LIKE %s"
PLACENAMES_COPY = "COPY geo_placename (id, name, kind, detail, source, source_key, location, bbox, keys, weight) FROM STDIN"

# The base map's names: places and points of interest one by one; a street or a river is many
# segments, so its segments are grouped by name and by nearness (200 m apart at most) into one.
BASEMAP_NAMES = """
    SELECT name, layer, kind, osm_id, ST_X(pt), ST_Y(pt), NULL, NULL, NULL, NULL
    FROM (SELECT name, layer, kind, osm_id, ST_PointOnSurface(geom) AS pt
          FROM geo_basemapfeature WHERE layer IN ('places', 'pois', 'water') AND name <> '') named
    UNION ALL
    SELECT name, layer, kind, osm_id, ST_X(pt), ST_Y(pt), ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)
    FROM (
        SELECT name, layer, min(kind) AS kind, min(osm_id) AS osm_id, ST_Extent(geom)::geometry AS box,
               ST_ClosestPoint(ST_Collect(geom), ST_Centroid(ST_Collect(geom))) AS pt
        FROM (SELECT name, layer, kind, osm_id, geom,
                     ST_ClusterDBSCAN(geom, eps => 0.002, minpoints => 1) OVER (PARTITION BY layer, name) AS cluster
              FROM geo_basemapfeature WHERE layer IN ('roads', 'waterways') AND name <> '') segments
        GROUP BY name, layer, cluster
    ) grouped
"""

JURISDICTION_NAMES = """
    SELECT j.name, j.level, j.code, ST_X(pt), ST_Y(pt),
           ST_XMin(j.geom), ST_YMin(j.geom), ST_XMax(j.geom), ST_YMax(j.geom), j.properties->>'name_en'
    FROM geo_jurisdiction j, LATERAL (SELECT ST_PointOnSurface(j.geom) AS pt) p
"""
# A sub-center is found where its smallest covered jurisdiction is.
SUBCENTER_NAMES = """
    SELECT DISTINCT ON (sc.id) sc.name, sc.kind_id, sc.code, j.code, sc.name_en
    FROM geo_subcenter sc
    JOIN geo_subcenter_jurisdictions sj ON sj.subcenter_id = sc.id
    JOIN geo_jurisdiction j ON j.id = sj.jurisdiction_id
    WHERE sc.active
    ORDER BY sc.id, j.area_m2, j.code
"""
LAYER_NAMES = """
    SELECT f.name, f.key, ST_X(pt), ST_Y(pt), ST_XMin(f.geom), ST_YMin(f.geom), ST_XMax(f.geom), ST_YMax(f.geom)
    FROM geo_feature f, LATERAL (SELECT ST_PointOnSurface(f.geom) AS pt) p
    WHERE f.layer_id = %s AND f.name <> ''
"""

PLACEPREFIXES_DELETE = """
    DELETE FROM geo_placeprefix WHERE placename_id IN (SELECT id FROM geo_placename WHERE source = ANY(%s))
"""
PLACEPREFIXES_COPY = "COPY geo_placeprefix (placename_id, prefix, whole, weight, name_length) FROM STDIN"
PLACENAME_IDS = "SELECT nextval('geo_placename_id_seq') FROM generate_series(1, %s)"

# The order of results, over candidates: the Chinese characters themselves, a whole word before
# a beginning, nearer to `near`, then settlements before streets and POIs, the shorter name.
_RANKED = """
    SELECT p.name, p.kind, p.detail, p.source, p.source_key, ST_X(p.location), ST_Y(p.location), p.bbox,
           CASE WHEN %(lon)s::float8 IS NULL THEN NULL
                ELSE ST_Distance(p.location::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
           END AS distance_m, p.id
    FROM candidates c JOIN geo_placename p ON p.id = c.id
    ORDER BY (%(han)s <> '' AND p.name LIKE '%%' || %(han)s || '%%') DESC, c.score DESC,
             distance_m NULLS LAST, p.weight DESC, length(p.name), p.id
    LIMIT %(limit)s
"""

# As one types: names with a word beginning with the query (2–8 letters), the best
# %(candidates)s read in index order (whole word, weight, shorter), then ranked.
PLACES_BY_PREFIX = """
    WITH candidates AS (
        SELECT placename_id AS id, whole::int AS score FROM geo_placeprefix
        WHERE prefix = %(prefix)s
        ORDER BY whole DESC, weight DESC, name_length, placename_id
        LIMIT %(candidates)s
    )
""" + _RANKED

# A longer query (or several words): the names whose words begin with its first 8 letters,
# kept when their keys hold the whole query at a word's beginning.
PLACES_BY_LONG_PREFIX = """
    WITH beginning AS MATERIALIZED (  -- read first: the planner would otherwise scan every name with LIKE
        SELECT placename_id, weight, name_length FROM geo_placeprefix WHERE prefix = %(prefix)s
    ), candidates AS (
        SELECT p.id, (' ' || p.keys || ' ' LIKE '%% ' || %(keys)s || ' %%')::int AS score
        FROM beginning b,  -- one name by its key per beginning (OFFSET 0: not flattened into a scan of all)
             LATERAL (SELECT id, keys FROM geo_placename WHERE id = b.placename_id OFFSET 0) p
        WHERE ' ' || p.keys LIKE '%% ' || %(keys)s || '%%'
        ORDER BY score DESC, b.weight DESC, b.name_length, b.placename_id
        LIMIT %(candidates)s
    )
""" + _RANKED

# When no word begins so (a typo): the most similar names (pg_trgm word similarity,
# nearest first in the GiST index), then ranked.
PLACES_BY_SIMILARITY = """
    WITH candidates AS (
        SELECT p.id, round(word_similarity(%(keys)s, p.keys)::numeric, 1) AS score FROM geo_placename p
        WHERE %(keys)s <%% p.keys
        ORDER BY %(keys)s <<-> p.keys
        LIMIT %(candidates)s
    )
""" + _RANKED

# ---- reverse lookup ------------------------------------------------------------------------

def _nearest_named(layers):
    return f"""(
        SELECT json_build_object('name', f.name, 'kind', f.kind,
                                 'distance_m', round(ST_Distance(f.geom::geography, here.g)::numeric, 1))
        FROM geo_basemapfeature f
        WHERE f.layer IN ({layers}) AND f.name <> '' AND ST_DWithin(f.geom, here.pt, %(degrees)s)
          AND ST_DWithin(f.geom::geography, here.g, %(meters)s)
        ORDER BY ST_Distance(f.geom::geography, here.g), f.id LIMIT 1)"""


def _covering(level):
    return f"""(
        SELECT json_build_object('code', j.code, 'name', j.name)
        FROM geo_jurisdiction j WHERE j.level = '{level}' AND ST_Covers(j.geom, here.pt)
        ORDER BY j.code COLLATE "C" LIMIT 1)"""


# The nearest named road, place and point of interest within a radius, and the county and
# township (街道/乡镇) covering the point, in one statement.
REVERSE_LOOKUP = f"""
    WITH here AS (SELECT pt, pt::geography AS g FROM (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt) p)
    SELECT {_nearest_named("'roads'")}, {_nearest_named("'places'")}, {_nearest_named("'pois'")},
           {_covering("county")}, {_covering("street")}
    FROM here
"""
