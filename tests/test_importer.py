"""import_geodata: what clean files become, and refusals that name the file and the feature.

Every refusal must leave the database exactly as it was, so the refusal cases run against
jurisdictions, sub-centers and a layer imported beforehand, and put the bad feature after
good features that would update those rows: a half-written import would show.
"""

import json
import subprocess
from io import StringIO

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import connection

from geo.gcj02 import gcj02_to_wgs84
from geo.models import Feature, Jurisdiction, Layer, SubCenter

pytestmark = pytest.mark.django_db

CAMBRIDGE_ENGINES = {f"Engine {n}" for n in (1, 2, 3, 4, 5, 6, 8, 9)}


def square(lon, lat, size=0.01):
    """Return a GeoJSON square polygon with its south-west corner at lon, lat."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry, **properties):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def write_geojson(path, *features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}), encoding="utf-8")
    return path


def import_jurisdictions(path, *options):
    out = StringIO()
    call_command(
        "import_geodata", str(path), "--jurisdictions", "--code-field", "code", "--name-field", "name",
        *options, stdout=out,
    )
    return out.getvalue()


def import_layer(path, *options, layer="hydrants"):
    out = StringIO()
    call_command("import_geodata", str(path), "--layer", layer, *options, stdout=out)
    return out.getvalue()


def import_cambridge_districts(path):
    out = StringIO()
    call_command(
        "import_geodata", str(path), "--jurisdictions", "--code-field", "ENGINE", "--name-field", "ENGINE",
        stdout=out,
    )
    return out.getvalue()


def stored_districts():
    """Return {code: (name, shapely geometry, area_m2)} for the stored Cambridge districts."""
    return {
        j.code: (j.name, shapely.from_wkb(bytes(j.geom.wkb)), j.area_m2)
        for j in Jurisdiction.objects.filter(code__startswith="Engine ")
    }


def db_state():
    """Return every row an import could write, to compare before and after a refusal."""
    return {
        "jurisdictions": [
            (j.code, j.name, j.level, j.parent_id, j.area_m2, j.geom.hexewkb, j.properties)
            for j in Jurisdiction.objects.order_by("code")
        ],
        "subcenters": list(
            SubCenter.objects.order_by("code").values_list("code", "name", "kind_id", "coverage_area_m2")
        ),
        "links": sorted(
            SubCenter.jurisdictions.through.objects.values_list("subcenter_id", "jurisdiction_id")
        ),
        "layers": list(Layer.objects.order_by("name").values_list("name", "title")),
        "features": [
            (f.layer_id, f.key, f.name, f.geom.hexewkb) for f in Feature.objects.order_by("layer", "key")
        ],
    }


def raw_geojson_shapes(path, key):
    """Return {properties[key]: shapely geometry} read straight from a GeoJSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {f["properties"][key]: shapely.geometry.shape(f["geometry"]) for f in data["features"]}


# The good rows imported before each refusal, and the changed versions a bad file carries
# before its bad feature.
ALPHA = feature(square(120.00, 30.00), code="A", name="Alpha")
BETA = feature(square(120.01, 30.00), code="B", name="Beta")
ALPHA_CHANGED = feature(square(120.00, 30.00, size=0.02), code="A", name="Alpha changed")
BETA_CHANGED = feature(square(120.05, 30.05), code="B", name="Beta changed")
HYDRANT = feature({"type": "Point", "coordinates": [120.005, 30.005]}, code="H1", name="Hydrant 1")
HYDRANT_MOVED = feature({"type": "Point", "coordinates": [120.006, 30.006]}, code="H1", name="Hydrant moved")


@pytest.fixture
def existing_rows(tmp_path):
    """Import two jurisdictions with fire sub-centers and a one-feature layer; return the state."""
    existing = write_geojson(tmp_path / "existing.geojson", ALPHA, BETA)
    import_jurisdictions(existing, "--subcenter-kinds", "fire")
    import_layer(write_geojson(tmp_path / "existing_hydrants.geojson", HYDRANT), "--code-field", "code")
    state = db_state()
    assert {"A", "B"} <= {row[0] for row in state["jurisdictions"]}
    assert {"A-fire", "B-fire"} <= {row[0] for row in state["subcenters"]}
    assert Feature.objects.filter(layer__name="hydrants", key="H1").exists()
    return state


def case_not_json(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", ', encoding="utf-8")
    return path, "jurisdictions", ["not valid GeoJSON"]


def case_not_geodata_for_gdal(tmp_path):
    path = tmp_path / "broken.topojson"
    path.write_text("this is no TopoJSON at all\n", encoding="utf-8")
    return path, "jurisdictions", ["cannot be read as geodata"]


def case_no_such_file(tmp_path):
    return tmp_path / "missing.geojson", "jurisdictions", ["no such file"]


def case_no_features(tmp_path):
    return write_geojson(tmp_path / "empty.geojson"), "jurisdictions", ["holds no features"]


def case_missing_code_property(tmp_path):
    bad = feature(square(120.1, 30.0), name="Gamma")
    path = write_geojson(tmp_path / "no_code.geojson", ALPHA_CHANGED, BETA_CHANGED, bad)
    return path, "jurisdictions", ["feature 3:", "no field 'code'", "--code-field", "its fields are: name"]


def case_missing_name_property(tmp_path):
    bad = feature(square(120.1, 30.0), code="C", label="Gamma")
    path = write_geojson(tmp_path / "no_name.geojson", ALPHA_CHANGED, BETA_CHANGED, bad)
    fragments = ["feature 3:", "no field 'name'", "--name-field", "its fields are: code, label"]
    return path, "jurisdictions", fragments


def case_point_as_jurisdiction(tmp_path):
    bad = feature({"type": "Point", "coordinates": [120.1, 30.0]}, code="P1", name="Pump")
    path = write_geojson(tmp_path / "point.geojson", ALPHA_CHANGED, BETA_CHANGED, bad)
    return path, "jurisdictions", ["feature 3 (Pump, P1)", "geometry is Point", "Polygon or MultiPolygon"]


def case_duplicate_codes(tmp_path):
    again = feature(square(120.2, 30.0), code="A", name="Alpha again")
    path = write_geojson(tmp_path / "duplicates.geojson", ALPHA_CHANGED, BETA_CHANGED, again)
    return path, "jurisdictions", ["features 1 and 3 share the code 'A'", "--code-field must be unique"]


def case_no_geometry(tmp_path):
    bad = feature(None, code="C", name="Gamma")
    path = write_geojson(tmp_path / "null_geometry.geojson", ALPHA_CHANGED, BETA_CHANGED, bad)
    return path, "jurisdictions", ["feature 3 (Gamma, C)", "has no geometry"]


def case_no_area_after_repair(tmp_path):
    flat = {"type": "Polygon", "coordinates": [[[120.1, 30.0], [120.2, 30.0], [120.3, 30.0], [120.1, 30.0]]]}
    bad = feature(flat, code="F", name="Flat")
    path = write_geojson(tmp_path / "flat.geojson", ALPHA_CHANGED, BETA_CHANGED, bad)
    return path, "jurisdictions", ["feature 3 (Flat, F)", "no area left after repair"]


def case_unreadable_geometry(tmp_path):
    broken = {"type": "Polygon", "coordinates": [[[120.1, 30.0], [120.2, 30.0]]]}
    bad = feature(broken, code="C", name="Gamma")
    path = write_geojson(tmp_path / "two_point_ring.geojson", ALPHA_CHANGED, BETA_CHANGED, bad)
    return path, "jurisdictions", ["feature 3:", "unreadable geometry"]


def case_layer_missing_code_property(tmp_path):
    bad = feature({"type": "Point", "coordinates": [120.1, 30.0]}, name="Hydrant 2")
    path = write_geojson(tmp_path / "hydrants_no_code.geojson", HYDRANT_MOVED, bad)
    return path, "layer", ["feature 2:", "no field 'code'", "--code-field"]


def case_layer_duplicate_keys(tmp_path):
    again = feature({"type": "Point", "coordinates": [120.1, 30.0]}, code="H1", name="Hydrant 1 again")
    path = write_geojson(tmp_path / "hydrants_duplicates.geojson", HYDRANT_MOVED, again)
    return path, "layer", ["features 1 and 2 share the code 'H1'"]


def case_layer_no_geometry(tmp_path):
    bad = feature(None, code="H2", name="Ghost")
    path = write_geojson(tmp_path / "hydrants_null.geojson", HYDRANT_MOVED, bad)
    return path, "layer", ["feature 2 (Ghost)", "has no geometry"]


REFUSALS = [
    case_not_json, case_not_geodata_for_gdal, case_no_such_file, case_no_features,
    case_missing_code_property, case_missing_name_property, case_point_as_jurisdiction,
    case_duplicate_codes, case_no_geometry, case_no_area_after_repair, case_unreadable_geometry,
    case_layer_missing_code_property, case_layer_duplicate_keys, case_layer_no_geometry,
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c.__name__.removeprefix("case_") for c in REFUSALS])
def test_bad_input_is_refused_naming_file_and_feature_and_database_is_unchanged(
    tmp_path, existing_rows, case
):
    path, target, fragments = case(tmp_path)
    with pytest.raises(CommandError) as refusal:
        if target == "layer":
            import_layer(path, "--code-field", "code", "--name-field", "name")
        else:
            import_jurisdictions(path, "--subcenter-kinds", "fire")
    message = str(refusal.value)
    assert message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, message
    assert db_state() == existing_rows


def test_unknown_subcenter_kind_is_refused_before_anything_is_written(tmp_path, existing_rows):
    path = write_geojson(tmp_path / "good.geojson", ALPHA_CHANGED, BETA_CHANGED)
    with pytest.raises(CommandError, match=r"unknown sub-center kind\(s\): police \(known: .*fire"):
        import_jurisdictions(path, "--subcenter-kinds", "fire,police")
    assert db_state() == existing_rows


@pytest.mark.parametrize("missing", ["--code-field", "--name-field"])
def test_jurisdictions_import_needs_both_name_and_code_field(tmp_path, existing_rows, missing):
    path = write_geojson(tmp_path / "good.geojson", ALPHA_CHANGED)
    options = {"--code-field": "code", "--name-field": "name"}
    del options[missing]
    with pytest.raises(CommandError, match="--jurisdictions needs --name-field and --code-field"):
        call_command(
            "import_geodata", str(path), "--jurisdictions", *sum(options.items(), ()), stdout=StringIO()
        )
    assert db_state() == existing_rows


def test_self_intersecting_polygon_is_repaired_with_make_valid_and_reported(tmp_path):
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[120.0, 30.0], [120.02, 30.02], [120.02, 30.0], [120.0, 30.02], [120.0, 30.0]]],
    }
    assert not shapely.geometry.shape(bow_tie).is_valid
    path = write_geojson(tmp_path / "bow_tie.geojson", ALPHA, feature(bow_tie, code="BT", name="Bow tie"))

    out = import_jurisdictions(path)

    assert f"{path}: 2 jurisdictions created, 0 updated" in out
    assert "repaired 1 invalid geometries (make_valid): Bow tie (BT)" in out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_IsValid(geom), GeometryType(geom), ST_NumGeometries(geom), ST_Area(geom) "
            "FROM geo_jurisdiction WHERE code = 'BT'"
        )
        valid, geometry_type, parts, area_deg2 = cursor.fetchone()
    assert (valid, geometry_type, parts) == (True, "MULTIPOLYGON", 2)
    assert area_deg2 == pytest.approx(0.02 * 0.02 / 2), "both triangles of the bow tie are kept"
    assert Jurisdiction.objects.get(code="BT").area_m2 == pytest.approx(
        Jurisdiction.objects.get(code="A").area_m2 * 2, rel=1e-3
    )


def test_reimporting_the_same_file_updates_by_code_instead_of_duplicating(tmp_path):
    path = write_geojson(tmp_path / "districts.geojson", ALPHA, BETA)
    import_jurisdictions(path, "--subcenter-kinds", "fire")
    ids = dict(Jurisdiction.objects.values_list("code", "id"))
    subcenter_ids = dict(SubCenter.objects.values_list("code", "id"))
    assert {"A", "B"} <= set(ids) and {"A-fire", "B-fire"} <= set(subcenter_ids)

    out = import_jurisdictions(path, "--subcenter-kinds", "fire")

    assert f"{path}: 0 jurisdictions created, 2 updated" in out
    assert dict(Jurisdiction.objects.values_list("code", "id")) == ids
    assert dict(SubCenter.objects.values_list("code", "id")) == subcenter_ids


def test_reimporting_a_changed_file_updates_name_geometry_and_areas(tmp_path):
    import_jurisdictions(write_geojson(tmp_path / "v1.geojson", ALPHA, BETA), "--subcenter-kinds", "fire")
    counts = Jurisdiction.objects.count(), SubCenter.objects.count()
    alpha_id = Jurisdiction.objects.get(code="A").id
    area_before = Jurisdiction.objects.get(code="A").area_m2

    changed = write_geojson(tmp_path / "v2.geojson", ALPHA_CHANGED, BETA)
    out = import_jurisdictions(changed, "--subcenter-kinds", "fire")

    assert "0 jurisdictions created, 2 updated" in out
    alpha = Jurisdiction.objects.get(code="A")
    assert (alpha.id, alpha.name) == (alpha_id, "Alpha changed")
    assert alpha.geom.extent == pytest.approx((120.0, 30.0, 120.02, 30.02))
    assert alpha.area_m2 == pytest.approx(4 * area_before, rel=1e-3)
    subcenter = SubCenter.objects.get(code="A-fire")
    assert subcenter.coverage_area_m2 == pytest.approx(alpha.area_m2)
    assert subcenter.name.startswith("Alpha changed")
    assert (Jurisdiction.objects.count(), SubCenter.objects.count()) == counts


def test_parents_are_linked_by_code_and_missing_parents_are_reported(tmp_path):
    path = write_geojson(
        tmp_path / "hierarchy.geojson",
        feature(square(120.0, 30.0), code="330101", name="County A", parent="3301"),
        feature(square(120.0, 30.0, size=0.1), code="3301", name="City"),
        feature(square(120.05, 30.0), code="330102", name="County B", parent="9999"),
    )

    out = import_jurisdictions(path, "--parent-field", "parent")

    assert Jurisdiction.objects.get(code="330101").parent.code == "3301"
    assert Jurisdiction.objects.get(code="330102").parent is None
    assert "1 parent code(s) not found; left without parent, e.g. County B (330102) → 9999" in out


def test_gcj02_option_converts_every_vertex_to_wgs84(tmp_path):
    gcj02_square = square(116.40, 39.90)
    path = write_geojson(tmp_path / "beijing_gcj02.geojson", feature(gcj02_square, code="BJ", name="Beijing"))

    import_jurisdictions(path, "--gcj02")

    stored = np.array(Jurisdiction.objects.get(code="BJ").geom.coords[0][0])
    source = np.array(gcj02_square["coordinates"][0])
    want = np.column_stack(gcj02_to_wgs84(source[:, 0], source[:, 1]))
    np.testing.assert_allclose(stored, want, rtol=0, atol=1e-12)
    assert np.all(np.abs(stored - source).max(axis=1) > 1e-3), "GCJ-02 shifts Beijing by hundreds of meters"


def test_topojson_and_geojson_of_cambridge_give_the_same_eight_districts(shared_data):
    cambridge = shared_data / "cambridge_ma"
    out = import_cambridge_districts(cambridge / "cambridge_fire_engine_districts.geojson")
    assert "8 jurisdictions created, 0 updated" in out
    from_geojson = stored_districts()

    count = Jurisdiction.objects.count()

    out = import_cambridge_districts(cambridge / "PUBLICSAFETY_FireEngineDistricts.topojson")

    assert "0 jurisdictions created, 8 updated" in out, "the TopoJSON carries exactly the same codes"
    assert Jurisdiction.objects.count() == count
    from_topojson = stored_districts()
    assert set(from_geojson) == set(from_topojson) == CAMBRIDGE_ENGINES
    for code, (name, geometry, area_m2) in from_topojson.items():
        geojson_name, geojson_geometry, geojson_area = from_geojson[code]
        assert name == geojson_name == code
        assert geometry.hausdorff_distance(geojson_geometry) < 1e-6, code  # about 0.1 m
        assert area_m2 == pytest.approx(geojson_area, rel=1e-4), code


@pytest.mark.parametrize(
    "target_srs", [None, "EPSG:2249"], ids=["wgs84", "reprojected_to_massachusetts_state_plane_feet"]
)
def test_shapefile_written_by_ogr2ogr_imports_the_same_districts_as_the_geojson(
    shared_data, tmp_path, target_srs
):
    source = shared_data / "cambridge_ma" / "cambridge_fire_engine_districts.geojson"
    shapefile = tmp_path / "districts.shp"
    reproject = ["-t_srs", target_srs] if target_srs else []
    subprocess.run(
        ["ogr2ogr", "-f", "ESRI Shapefile", *reproject, str(shapefile), str(source)],
        check=True, capture_output=True,
    )

    out = import_cambridge_districts(shapefile)

    assert f"{shapefile}: 8 jurisdictions created, 0 updated" in out
    stored = stored_districts()
    expected = raw_geojson_shapes(source, "ENGINE")
    assert set(stored) == set(expected) == CAMBRIDGE_ENGINES
    for code, (_, geometry, _) in stored.items():
        assert geometry.hausdorff_distance(expected[code]) < 1e-7, code  # about 1 cm


@pytest.mark.parametrize("code_field", ["GlobalID", "SITE_NAME"])
def test_fire_stations_import_as_a_layer_and_reimport_updates_by_key(shared_data, tmp_path, code_field):
    source = shared_data / "cambridge_ma" / "PUBLICSAFETY_FireStations.geojson"
    data = json.loads(source.read_text(encoding="utf-8"))
    options = ["--code-field", code_field, "--name-field", "SITE_NAME", "--title", "Fire stations",
               "--attribution", "City of Cambridge GIS"]

    out = import_layer(source, *options, layer="fire-stations")

    assert f"{source}: 8 features of layer fire-stations created, 0 updated" in out
    layer = Layer.objects.get(name="fire-stations")
    assert (layer.title, layer.attribution) == ("Fire stations", "City of Cambridge GIS")
    stored = {f.key: f for f in layer.features.all()}
    assert set(stored) == {f["properties"][code_field] for f in data["features"]}
    for source_feature in data["features"]:
        stored_feature = stored[source_feature["properties"][code_field]]
        assert stored_feature.name == source_feature["properties"]["SITE_NAME"]
        assert stored_feature.geom.geom_type == "Point"
        source_lon, source_lat = source_feature["geometry"]["coordinates"][:2]
        assert stored_feature.geom.coords == pytest.approx((source_lon, source_lat))

    moved = data["features"][4]
    moved["properties"]["PHONE"] = "617-555-0100"
    lon, lat = moved["geometry"]["coordinates"][:2]
    moved["geometry"]["coordinates"] = [lon + 0.001, lat]
    changed = tmp_path / "stations_changed.geojson"
    changed.write_text(json.dumps(data), encoding="utf-8")

    out = import_layer(changed, *options, layer="fire-stations")

    assert "0 features of layer fire-stations created, 8 updated" in out
    assert layer.features.count() == 8
    updated = layer.features.get(key=moved["properties"][code_field])
    assert updated.properties["PHONE"] == "617-555-0100"
    assert updated.geom.coords == pytest.approx(tuple(moved["geometry"]["coordinates"]))


def test_layer_without_code_field_keys_features_by_position(shared_data):
    source = shared_data / "cambridge_ma" / "PUBLICSAFETY_EmergencyShelters.geojson"
    import_layer(source, layer="shelters")
    assert sorted(Feature.objects.filter(layer__name="shelters").values_list("key", flat=True), key=int) == [
        str(n) for n in range(1, 16)
    ]


def test_geojson_with_z_coordinates_imports_as_two_dimensional(tmp_path):
    ring = [[lon, lat, 12.5] for lon, lat in square(120.0, 30.0)["coordinates"][0]]
    three_d = feature({"type": "Polygon", "coordinates": [ring]}, code="Z", name="Zed")
    path = write_geojson(tmp_path / "three_d.geojson", three_d)
    import_jurisdictions(path)
    assert Jurisdiction.objects.get(code="Z").geom.dims == 2


def test_coordinates_outside_the_longitude_latitude_range_are_refused(tmp_path, existing_rows):
    # A GeoJSON exported in Massachusetts state plane feet (legacy "crs" member, ignored).
    projected = feature(square(759_000.0, 2_959_000.0, size=1000.0), code="P", name="Projected")
    path = write_geojson(tmp_path / "state_plane.geojson", ALPHA_CHANGED, projected)
    with pytest.raises(CommandError) as refusal:
        import_jurisdictions(path)
    assert str(path) in str(refusal.value) and "feature 2" in str(refusal.value)
    assert db_state() == existing_rows


def test_null_entry_in_features_is_refused_naming_file_and_feature(tmp_path, existing_rows):
    path = tmp_path / "null_feature.geojson"
    collection = {"type": "FeatureCollection", "features": [ALPHA_CHANGED, None]}
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(CommandError) as refusal:
        import_jurisdictions(path)
    assert str(path) in str(refusal.value) and "feature 2" in str(refusal.value)
    assert db_state() == existing_rows
