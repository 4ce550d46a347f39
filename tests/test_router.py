"""Who gets the ticket: the PostGIS router on real boundaries, and the bulk router held to it.

Cambridge MA (8 fire engine districts, 8 stations, 15 shelters) gives ground truth from the
city's own data; all 2,878 counties of China (GCJ-02 source, converted on import) give
scale, coastlines and many shared borders.
"""

import json
from dataclasses import dataclass
from io import StringIO

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Q

from geo.bulk import NO_OWNER, CoverageIndex
from geo.gcj02 import gcj02_to_wgs84, geometry_gcj02_to_wgs84
from geo.models import Jurisdiction, SubCenter, SubCenterKind
from geo.router import Rule, route_point
from geo.services import subcenter_refresh_coverage_area

# Every test here must be a plain (rolled back) database test: the China counties are
# committed once for the module, and a transactional test would flush them.
pytestmark = pytest.mark.django_db

CAMBRIDGE_ENGINES = {f"Engine {n}" for n in (1, 2, 3, 4, 5, 6, 8, 9)}
# From the data's README: each station lies in its own engine's district.
STATION_DISTRICTS = {
    "Fire Headquarters": "Engine 1",
    "Fire Company 2": "Engine 2",
    "Fire Company 3": "Engine 3",
    "Fire Company 4": "Engine 4",
    "Fire Company 5": "Engine 5",
    "Fire Company 6": "Engine 6",
    "Fire Company 8": "Engine 8",
    "Fire Company 9": "Engine 9",
}
LINCANG = ["530902", "530921", "530922", "530923", "530924", "530925", "530926", "530927"]
EAST_CHINA_SEA = (123.0, 27.0)
# Island and seaside counties: 定海区 and 普陀区 (Zhoushan), 思明区 (Xiamen), 市南区 (Qingdao).
COASTAL_COUNTIES = ["330902", "330903", "350203", "370202"]
CHINA_BBOX = (73.5, 18.0, 135.1, 53.6)
TOLERANCE_M = 200


def geojson_points(path, name_field):
    """Return {name: (lon, lat)} for the point features of a GeoJSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {f["properties"][name_field]: tuple(f["geometry"]["coordinates"][:2]) for f in data["features"]}


def station(folder, name):
    """Return (lon, lat) of a Cambridge fire station by its SITE_NAME."""
    return geojson_points(folder / "PUBLICSAFETY_FireStations.geojson", "SITE_NAME")[name]


def fire(lon, lat, **kwargs):
    """Return the fire routing of a point."""
    return route_point(lon=float(lon), lat=float(lat), kinds=["fire"], **kwargs)["fire"]


def covering_codes(lon, lat):
    """Return the codes of the jurisdictions that cover a point, straight from PostGIS."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code FROM geo_jurisdiction WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
            "ORDER BY code",
            [float(lon), float(lat)],
        )
        return [row[0] for row in cursor.fetchall()]


def nearest_jurisdiction(lon, lat):
    """Return (code, meters) of the jurisdiction nearest a point, measured on the spheroid."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS point)
            SELECT code, ST_Distance(geom::geography, p.point::geography) AS d
            FROM geo_jurisdiction, p
            WHERE ST_DWithin(geom, p.point, 0.5)
            ORDER BY d LIMIT 1
            """,
            {"lon": float(lon), "lat": float(lat)},
        )
        row = cursor.fetchone()
    return row if row else (None, float("inf"))


def stored_geometry(code):
    return shapely.from_wkb(bytes(Jurisdiction.objects.get(code=code).geom.wkb))


def add_subcenter(code, district_codes, *, priority=0, active=True, kind="fire"):
    """Create a sub-center (fire unless told) covering some jurisdictions, with its coverage area kept."""
    subcenter = SubCenter.objects.create(code=code, name=code, kind_id=kind, priority=priority, active=active)
    subcenter.jurisdictions.set(Jurisdiction.objects.filter(code__in=district_codes))
    subcenter_refresh_coverage_area(subcenter=subcenter)
    return subcenter


def postgis_routes(lons, lats, kinds=("fire",)):
    """Return {kind: (subcenter ids with NO_OWNER, rules, jurisdiction codes)} from the PostGIS router."""
    answers = [route_point(lon=float(x), lat=float(y), kinds=list(kinds)) for x, y in zip(lons, lats)]
    return {
        kind: (
            np.array([a[kind].subcenter_id or NO_OWNER for a in answers], dtype=np.int64),
            np.array([a[kind].rule for a in answers], dtype=object),
            np.array([a[kind].jurisdiction_code for a in answers], dtype=object),
        )
        for kind in kinds
    }


def assert_bulk_matches_postgis(lons, lats, postgis):
    bulk = CoverageIndex(list(postgis)).route(lons, lats)
    for kind, (pg_ids, pg_rules, _) in postgis.items():
        ids, rules = bulk.subcenter_ids[kind], bulk.rules[kind]
        differ = np.flatnonzero((ids != pg_ids) | (rules != pg_rules))
        details = [
            (float(lons[i]), float(lats[i]), int(pg_ids[i]), pg_rules[i], int(ids[i]), rules[i])
            for i in differ[:10]
        ]
        assert differ.size == 0, (
            f"{kind}: {differ.size} of {len(lons)} points differ (lon, lat, postgis, bulk): {details}"
        )


# --- Cambridge MA -----------------------------------------------------------------------


@pytest.fixture
def cambridge(shared_data, settings):
    """Import the 8 fire engine districts with one fire sub-center each; return the folder."""
    settings.ROUTING_TOLERANCE_M = TOLERANCE_M
    folder = shared_data / "cambridge_ma"
    call_command(
        "import_geodata", str(folder / "cambridge_fire_engine_districts.geojson"), "--jurisdictions",
        "--code-field", "ENGINE", "--name-field", "ENGINE", "--subcenter-kinds", "fire", stdout=StringIO(),
    )
    return folder


def shared_border_vertices():
    """Return [(lon, lat, (code, code))] for vertices that exactly two districts share."""
    owners = {}
    for jurisdiction in Jurisdiction.objects.filter(code__in=CAMBRIDGE_ENGINES):
        geometry = shapely.from_wkb(bytes(jurisdiction.geom.wkb))
        for lon, lat in shapely.get_coordinates(geometry):
            owners.setdefault((lon, lat), set()).add(jurisdiction.code)
    return [(lon, lat, tuple(sorted(codes))) for (lon, lat), codes in owners.items() if len(codes) == 2]


def test_every_fire_station_routes_to_its_own_engine_district(cambridge):
    stations = geojson_points(cambridge / "PUBLICSAFETY_FireStations.geojson", "SITE_NAME")
    assert set(stations) == set(STATION_DISTRICTS)

    routings = {name: fire(lon, lat) for name, (lon, lat) in stations.items()}

    assert {name: r.jurisdiction_code for name, r in routings.items()} == STATION_DISTRICTS
    assert {r.rule for r in routings.values()} == {Rule.COVERED}
    for name, routing in routings.items():
        assert routing.subcenter_code == f"{STATION_DISTRICTS[name]}-fire"
        assert routing.subcenter_id == SubCenter.objects.get(code=routing.subcenter_code).id


def test_every_emergency_shelter_routes_to_a_district_that_covers_it(cambridge):
    shelters = geojson_points(cambridge / "PUBLICSAFETY_EmergencyShelters.geojson", "Name")
    assert len(shelters) == 15

    for name, (lon, lat) in shelters.items():
        routing = fire(lon, lat)
        assert routing.rule == Rule.COVERED, name
        assert routing.jurisdiction_code in CAMBRIDGE_ENGINES, name
        assert covering_codes(lon, lat) == [routing.jurisdiction_code], name


def test_point_outside_every_district_and_beyond_tolerance_has_no_owner(cambridge):
    routing = fire(-71.0, 42.30)  # Dorchester Bay, kilometers from Cambridge
    assert routing.rule == Rule.NO_OWNER
    assert (routing.subcenter_id, routing.jurisdiction_code) == (None, None)


def test_higher_priority_subcenter_wins_an_overlap(cambridge):
    regional = add_subcenter("regional-fire", ["Engine 5", "Engine 1"], priority=1)
    lon, lat = station(cambridge, "Fire Company 5")

    routing = fire(lon, lat)

    assert routing.rule == Rule.OVERLAP
    assert (routing.subcenter_id, routing.decided_by, routing.candidates) == (regional.id, "priority", 2)
    assert routing.jurisdiction_code == "Engine 5"


def test_with_equal_priority_the_smaller_coverage_wins_an_overlap(cambridge):
    regional = add_subcenter("regional-fire", ["Engine 5", "Engine 1"])
    own = SubCenter.objects.get(code="Engine 5-fire")
    assert own.coverage_area_m2 < regional.coverage_area_m2
    lon, lat = station(cambridge, "Fire Company 5")

    routing = fire(lon, lat)

    assert routing.rule == Rule.OVERLAP
    assert (routing.subcenter_id, routing.decided_by, routing.candidates) == (own.id, "smaller_coverage", 2)


def test_with_equal_priority_and_coverage_the_lower_code_wins_an_overlap(cambridge):
    reserve = add_subcenter("0-reserve-fire", ["Engine 5"])  # "0…" sorts before "Engine 5-fire"
    assert reserve.coverage_area_m2 == SubCenter.objects.get(code="Engine 5-fire").coverage_area_m2
    lon, lat = station(cambridge, "Fire Company 5")

    routing = fire(lon, lat)

    assert routing.rule == Rule.OVERLAP
    assert (routing.subcenter_id, routing.decided_by) == (reserve.id, "code")


def test_inactive_subcenter_takes_no_part_in_an_overlap(cambridge):
    add_subcenter("regional-fire", ["Engine 5", "Engine 1"], priority=9, active=False)
    lon, lat = station(cambridge, "Fire Company 5")

    routing = fire(lon, lat)

    assert (routing.rule, routing.subcenter_code, routing.candidates) == (Rule.COVERED, "Engine 5-fire", 1)


def test_point_exactly_on_a_shared_border_always_goes_to_the_smaller_district(cambridge):
    vertices = shared_border_vertices()
    assert len(vertices) >= 50, "the districts share many border vertices"
    area = dict(Jurisdiction.objects.values_list("code", "area_m2"))

    for lon, lat, codes in vertices:
        # Two districts share the vertex; a third may pass through it along an edge.
        covering = covering_codes(lon, lat)
        assert set(codes) <= set(covering), "PostGIS puts the vertex on both borders"
        smallest = min(covering, key=area.get)
        first, again = fire(lon, lat), fire(lon, lat)
        assert first == again
        assert (first.rule, first.decided_by) == (Rule.OVERLAP, "smaller_coverage")
        assert first.candidates == len(covering)
        assert first.jurisdiction_code == smallest, (lon, lat, covering)
        assert first.subcenter_code == f"{smallest}-fire"


def test_bulk_router_agrees_with_postgis_router_on_cambridge_overlaps_and_borders(cambridge):
    add_subcenter("regional-fire", ["Engine 5", "Engine 1"], priority=1)
    add_subcenter("0-reserve-fire", ["Engine 6"])
    add_subcenter("retired-fire", sorted(CAMBRIDGE_ENGINES), priority=9, active=False)
    add_subcenter("north-health", ["Engine 4", "Engine 8", "Engine 9"], kind="health")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) AS e FROM geo_jurisdiction WHERE code = ANY(%s)) AS extent",
            [sorted(CAMBRIDGE_ENGINES)],
        )
        xmin, ymin, xmax, ymax = cursor.fetchone()
    margin = 0.004  # about 330 m: the grid reaches past the city line, beyond the tolerance
    grid_lon, grid_lat = np.meshgrid(
        np.linspace(xmin - margin, xmax + margin, 70), np.linspace(ymin - margin, ymax + margin, 70)
    )
    border = np.array([(lon, lat) for lon, lat, _ in shared_border_vertices()])
    lons = np.concatenate([grid_lon.ravel(), border[:, 0]])
    lats = np.concatenate([grid_lat.ravel(), border[:, 1]])

    postgis = postgis_routes(lons, lats, kinds=("fire", "health"))

    assert_bulk_matches_postgis(lons, lats, postgis)
    pg_ids, pg_rules, _ = postgis["fire"]
    assert set(pg_rules) == {Rule.COVERED, Rule.OVERLAP, Rule.NEAREST, Rule.NO_OWNER}
    health_rules = postgis["health"][1]
    assert {Rule.COVERED, Rule.NEAREST, Rule.NO_OWNER} <= set(health_rules)
    fire_only = (health_rules == Rule.NO_OWNER) & (pg_rules != Rule.NO_OWNER)
    assert np.sum(fire_only) > 100, "points with a fire owner and no health owner"
    assert SubCenter.objects.get(code="regional-fire").id in pg_ids
    assert SubCenter.objects.get(code="0-reserve-fire").id in pg_ids
    assert SubCenter.objects.get(code="Engine 6-fire").id not in pg_ids, "0-reserve-fire wins on code"


# --- The route command ------------------------------------------------------------------


def run_route(*args):
    out = StringIO()
    call_command("route", *map(str, args), stdout=out)
    return out.getvalue()


def test_route_command_prints_the_owner_and_why(cambridge):
    lon, lat = station(cambridge, "Fire Company 5")

    lines = run_route(lon, lat, "--kinds", "fire").splitlines()

    assert len(lines) == 1
    assert lines[0].split()[0] == "fire"
    assert "(Engine 5-fire) — covered: point inside Engine 5 (Engine 5)" in lines[0]


def test_route_command_explains_an_overlap_decision(cambridge):
    add_subcenter("regional-fire", ["Engine 5", "Engine 1"], priority=1)
    lon, lat = station(cambridge, "Fire Company 5")

    out = run_route(lon, lat, "--kinds", "fire")

    assert (
        "regional-fire (regional-fire) — overlap: 2 coverages contain the point; decided by priority; "
        "matched Engine 5 (Engine 5)"
    ) in out


def test_route_command_json_gives_the_routing_explanation(cambridge):
    lon, lat = station(cambridge, "Fire Headquarters")

    answer = json.loads(run_route(lon, lat, "--kinds", "fire", "--json"))

    subcenter = SubCenter.objects.get(code="Engine 1-fire")
    assert answer == [{
        "kind": "fire", "rule": "covered", "subcenter_id": subcenter.id, "subcenter_code": "Engine 1-fire",
        "subcenter_name": subcenter.name, "jurisdiction_code": "Engine 1", "jurisdiction_name": "Engine 1",
        "candidates": 1,
    }]


def test_route_command_without_kinds_answers_every_kind_and_sends_uncovered_ones_to_triage(cambridge):
    lon, lat = station(cambridge, "Fire Company 3")

    lines = run_route(lon, lat).splitlines()

    by_kind = {line.split()[0]: line for line in lines}
    assert set(by_kind) == set(SubCenterKind.objects.values_list("code", flat=True))
    assert {"water", "civil_air_defense", "earthquake", "civil_affairs", "health", "fire"} <= set(by_kind)
    assert "(Engine 3-fire) — covered" in by_kind["fire"]
    for kind in by_kind.keys() - {"fire"}:
        assert "no owner → triage" in by_kind[kind]


def test_route_command_refuses_unknown_kinds_and_impossible_coordinates(cambridge):
    with pytest.raises(CommandError, match=r"unknown kind\(s\): police; known: .*fire"):
        run_route(-71.1, 42.37, "--kinds", "fire,police")
    with pytest.raises(CommandError, match="LAT within -90..90"):
        run_route(-71.1, 95.0)


# --- China: all 2,878 counties ----------------------------------------------------------


@pytest.fixture(scope="module")
def china(django_db_setup, django_db_blocker, shared_data):
    """Import every county of China once (about 20 s), committed; return their properties by code.

    Module scope rather than session scope: this module is the only user, and when it ends
    the database is put back as it was, so no other module sees 2,878 extra jurisdictions.
    Rows that were there before (the sample city 临沧市 of tests/conftest.py shares codes
    with it) are restored rather than deleted.
    """
    path = shared_data / "china" / "china_county_level_datav_gcj02.geojson"
    source = json.loads(path.read_text(encoding="utf-8"))
    counties = {str(f["properties"]["adcode"]): f["properties"] for f in source["features"]}
    geometries = {str(f["properties"]["adcode"]): f["geometry"] for f in source["features"]}
    lincang_gcj02 = {code: geometries[code] for code in LINCANG}
    del geometries
    del source
    fire_codes = [f"{code}-fire" for code in counties]
    with django_db_blocker.unblock():
        kept_jurisdictions = list(Jurisdiction.objects.filter(code__in=counties))
        kept_subcenters = list(
            SubCenter.objects.filter(Q(code__in=fire_codes) | Q(jurisdictions__code__in=counties)).distinct()
        )
        call_command(
            "import_geodata", str(path), "--jurisdictions", "--gcj02", "--code-field", "adcode",
            "--name-field", "name", "--parent-field", "parent.adcode", "--level", "county",
            "--subcenter-kinds", "fire", stdout=StringIO(),
        )
        with connection.cursor() as cursor:
            # What autovacuum would do after a bulk load; without statistics the planner walks
            # every sub-center for each point (about 20 ms a point instead of under 1 ms).
            cursor.execute("ANALYZE geo_jurisdiction, geo_subcenter, geo_subcenter_jurisdictions")
    yield China(counties=counties, lincang_gcj02=lincang_gcj02)
    with django_db_blocker.unblock(), transaction.atomic():
        SubCenter.objects.filter(code__in=fire_codes).exclude(pk__in=[s.pk for s in kept_subcenters]).delete()
        kept = [j.pk for j in kept_jurisdictions]
        created = Jurisdiction.objects.filter(code__in=counties).exclude(pk__in=kept)
        created.update(parent=None)
        created.delete()
        Jurisdiction.objects.bulk_update(
            kept_jurisdictions, ["name", "level", "parent", "geom", "area_m2", "properties"]
        )
        SubCenter.objects.bulk_update(kept_subcenters, ["name", "name_en", "coverage_area_m2"])


@dataclass
class China:
    counties: dict  # code → the county's properties in the source file
    lincang_gcj02: dict  # code → GeoJSON geometry as published (GCJ-02), for 临沧市 only


def wgs84_center(properties):
    lon, lat = gcj02_to_wgs84(*properties["center"])
    return float(lon), float(lat)


def test_all_counties_are_imported_with_a_fire_subcenter_each(china):
    assert len(china.counties) == 2878
    assert Jurisdiction.objects.filter(code__in=china.counties, level="county").count() == 2878
    fire_codes = [f"{code}-fire" for code in china.counties]
    subcenters = SubCenter.objects.filter(code__in=fire_codes, kind_id="fire")
    assert subcenters.count() == 2878


def test_seat_of_linxiang_district_routes_to_530902(china):
    lon, lat = wgs84_center(china.counties["530902"])

    routing = fire(lon, lat)

    assert china.counties["530902"]["name"] == "临翔区"
    assert (routing.rule, routing.jurisdiction_code) == (Rule.COVERED, "530902")
    assert routing.subcenter_code == "530902-fire"


@pytest.mark.parametrize("code", LINCANG)
def test_every_lincang_county_seat_routes_to_its_own_county(china, code):
    routing = fire(*wgs84_center(china.counties[code]))
    assert (routing.rule, routing.jurisdiction_code) == (Rule.COVERED, code)


def test_lincang_has_exactly_the_eight_expected_counties(china):
    assert sorted(code for code in china.counties if code.startswith("5309")) == LINCANG


@pytest.mark.parametrize("code", LINCANG)
def test_counties_are_stored_in_wgs84_not_in_their_gcj02_source_datum(china, code):
    published = shapely.geometry.shape(china.lincang_gcj02[code])
    stored = stored_geometry(code)
    assert stored.hausdorff_distance(geometry_gcj02_to_wgs84(published)) < 1e-9
    assert stored.hausdorff_distance(published) > 1e-3, "GCJ-02 is hundreds of meters off in Yunnan"


def test_point_in_the_east_china_sea_has_no_owner(china, settings):
    settings.ROUTING_TOLERANCE_M = TOLERANCE_M
    lon, lat = EAST_CHINA_SEA
    assert covering_codes(lon, lat) == []
    assert nearest_jurisdiction(lon, lat)[1] > 10_000

    routing = fire(lon, lat)

    assert (routing.rule, routing.subcenter_id, routing.jurisdiction_code) == (Rule.NO_OWNER, None, None)


def point_just_off_the_coast():
    """Return (lon, lat, nearest code, meters) for a point ~100 m seaward of a coastal county."""
    for code in COASTAL_COUNTIES:
        polygon = max(stored_geometry(code).geoms, key=lambda part: part.area)
        ring = np.asarray(shapely.geometry.polygon.orient(polygon, 1.0).exterior.coords)[:-1]
        for i in range(0, len(ring), max(1, len(ring) // 40)):
            lon, lat = ring[i]
            meters_per_deg = np.array([111_320.0 * np.cos(np.radians(lat)), 110_574.0])
            along = (ring[(i + 1) % len(ring)] - ring[i - 1]) * meters_per_deg
            outward = np.array([along[1], -along[0]]) / np.hypot(*along)  # right of a counter-clockwise ring
            candidate = ring[i] + outward * 100.0 / meters_per_deg
            if covering_codes(*candidate):
                continue
            nearest, meters = nearest_jurisdiction(*candidate)
            if 20.0 < meters < 150.0:
                return float(candidate[0]), float(candidate[1]), nearest, meters
    raise AssertionError(f"no seaward point found near {COASTAL_COUNTIES}")


def test_point_just_off_the_coast_routes_to_the_nearest_county_within_tolerance(china, settings):
    settings.ROUTING_TOLERANCE_M = TOLERANCE_M
    lon, lat, nearest, meters = point_just_off_the_coast()

    routing = fire(lon, lat)

    assert routing.rule == "nearest_within_tolerance"
    assert (routing.jurisdiction_code, routing.subcenter_code) == (nearest, f"{nearest}-fire")
    assert 0 < routing.distance_m <= TOLERANCE_M
    assert routing.distance_m == pytest.approx(meters, abs=0.1)
    assert fire(lon, lat, tolerance_m=meters / 2).rule == Rule.NO_OWNER


def border_sample(rng, china, count, *, jitter):
    """Return (lons, lats, source codes): boundary vertices of random counties, jittered."""
    codes = rng.choice(sorted(china.counties), size=300, replace=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, ST_AsBinary(geom) FROM geo_jurisdiction WHERE code = ANY(%s)", [list(codes)]
        )
        vertices = {
            code: shapely.get_coordinates(shapely.from_wkb(bytes(wkb))) for code, wkb in cursor.fetchall()
        }
    source = rng.choice(codes, size=count)
    points = np.array([vertices[code][rng.integers(len(vertices[code]))] for code in source])
    if jitter:
        radius = 10 ** rng.uniform(-5, -3, count)  # 1e-5 .. 1e-3 degrees, about 1 m .. 100 m
        angle = rng.uniform(0, 2 * np.pi, count)
        points = points + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return points[:, 0], points[:, 1], source


def test_bulk_router_gives_the_same_owner_and_rule_as_postgis_for_every_point(china, settings):
    settings.ROUTING_TOLERANCE_M = TOLERANCE_M
    rng = np.random.default_rng(20260101)
    uniform_lons = rng.uniform(CHINA_BBOX[0], CHINA_BBOX[2], 5000)
    uniform_lats = rng.uniform(CHINA_BBOX[1], CHINA_BBOX[3], 5000)
    near_lons, near_lats, near_source = border_sample(rng, china, 5000, jitter=True)
    # Plus unjittered vertices: exactly on a border, where two implementations most easily part.
    on_lons, on_lats, _ = border_sample(rng, china, 500, jitter=False)
    lons = np.concatenate([uniform_lons, near_lons, on_lons])
    lats = np.concatenate([uniform_lats, near_lats, on_lats])

    postgis = postgis_routes(lons, lats)

    assert_bulk_matches_postgis(lons, lats, postgis)
    _, pg_rules, pg_codes = postgis["fire"]
    # The sample really exercises every rule, so agreement is not agreement on nothing.
    rules = {
        rule: int(np.sum(pg_rules == rule))
        for rule in (Rule.COVERED, Rule.NO_OWNER, Rule.OVERLAP, Rule.NEAREST)
    }
    assert rules[Rule.COVERED] >= 3000 and rules[Rule.NO_OWNER] >= 1000, rules
    assert rules[Rule.OVERLAP] >= 200 and rules[Rule.NEAREST] >= 50, rules
    # The near-border points fall on both sides of the borders they were taken from.
    near_codes = pg_codes[5000:10000]
    stayed = np.sum(near_codes == near_source)
    crossed = np.sum((near_codes != near_source) & (pg_rules[5000:10000] != Rule.NO_OWNER))
    assert stayed >= 1000 and crossed >= 1000, (stayed, crossed)
