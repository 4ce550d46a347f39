"""The offline base map: import_basemap against GDAL's own counts, vector tiles, their cache.

Real data: the Liechtenstein extract of 2013-08-03 (ODbL, © OpenStreetMap contributors),
imported once a session (tests/conftest.py `liechtenstein`).
"""

import math
import shutil
import subprocess
from io import StringIO

import mapbox_vector_tile
import pytest
from django.core.management import CommandError, call_command

from geo.models import BasemapFeature, BasemapImport, CachedTile, TileSet
from geo.osm import FILTERS as GDAL_FILTERS  # each layer's selection, as a GDAL attribute filter
from tests.conftest import LIECHTENSTEIN

pytestmark = pytest.mark.usefixtures("clean_after_module")  # it commits the sample city and a base map

VADUZ = (9.5209, 47.1410)
MVT = "application/vnd.mapbox-vector-tile"


def gdal_count(layer, where):
    """Return how many features GDAL's own ogrinfo counts in a layer of the extract under a filter."""
    out = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(LIECHTENSTEIN), "-sql", f"SELECT COUNT(*) FROM {layer} WHERE {where}"],
        capture_output=True, text=True, check=True,
    ).stdout
    return int(out.rsplit("=", 1)[1])


def tile_xy(lon, lat, z):
    """Return the x, y of the Web Mercator tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def feature_counts(tile):
    return {name: len(layer["features"]) for name, layer in mapbox_vector_tile.decode(tile).items()}


def get_tile(client, tileset, z, x, y):
    return client.get(f"/api/v1/tiles/{tileset}/{z}/{x}/{y}.mvt")


@pytest.fixture
def reader(liechtenstein, db, client, django_user_model):
    """A signed-in account (any role may read the map)."""
    client.force_login(django_user_model.objects.create_user("t-map-reader"))
    return client


def test_every_layer_holds_what_gdal_counts_for_the_same_filter(liechtenstein, db):
    assert shutil.which("ogrinfo"), "GDAL's ogrinfo (gdal-bin) is needed to count independently"
    stored = {layer: BasemapFeature.objects.filter(layer=layer).count() for layer in GDAL_FILTERS}
    expected = {layer: gdal_count(*spec) for layer, spec in GDAL_FILTERS.items()}
    assert stored == expected
    assert expected["roads"] == 2751 and expected["places"] == 20  # data/README.md's own figures
    assert BasemapImport.objects.order_by("-id").first().counts == expected


def test_reimport_replaces_the_base_map_and_reports_counts(liechtenstein, db):
    before = BasemapFeature.objects.count()
    out = StringIO()
    call_command("import_basemap", str(LIECHTENSTEIN), stdout=out)
    assert BasemapFeature.objects.count() == before  # replaced, not added to
    assert "roads 2751" in out.getvalue() and "places 20" in out.getvalue()


@pytest.mark.parametrize("make_bad,complaint", [
    (lambda tmp: _truncated(tmp), "damaged or truncated OSM data"),
    (lambda tmp: _geojson(tmp), "not an OpenStreetMap extract (GDAL reads it as GeoJSON)"),
    (lambda tmp: _text(tmp), "cannot be read as geodata"),
    (lambda tmp: tmp / "missing.osm.pbf", "no such file"),
])
def test_a_broken_or_foreign_file_is_refused_and_the_base_map_kept(liechtenstein, db, tmp_path, make_bad, complaint):
    path = make_bad(tmp_path)
    before = (BasemapFeature.objects.count(), BasemapImport.objects.latest("id").id,
              TileSet.objects.get(name="basemap").version)
    with pytest.raises(CommandError) as refused:
        call_command("import_basemap", str(path), stdout=StringIO())
    assert str(path) in str(refused.value) and complaint in str(refused.value)
    assert "previous base map is unchanged" in str(refused.value)
    after = (BasemapFeature.objects.count(), BasemapImport.objects.latest("id").id,
             TileSet.objects.get(name="basemap").version)
    assert after == before


def _truncated(tmp):
    path = tmp / "cut.osm.pbf"
    path.write_bytes(LIECHTENSTEIN.read_bytes()[:300_000])
    return path


def _geojson(tmp):
    path = tmp / "stations.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
                    '"geometry": {"type": "Point", "coordinates": [9.5, 47.1]}}]}')
    return path


def _text(tmp):
    path = tmp / "notes.osm.pbf"
    path.write_text("not a map")
    return path


def test_a_street_level_tile_over_vaduz_holds_roads_and_the_place_label(reader):
    x, y = tile_xy(*VADUZ, 14)
    response = get_tile(reader, "basemap", 14, x, y)
    assert response.status_code == 200 and response["Content-Type"] == MVT
    layers = mapbox_vector_tile.decode(response.content)
    assert len(layers["roads"]["features"]) > 50
    assert {"kind", "name"} <= set(layers["roads"]["features"][0]["properties"])
    assert "Vaduz" in {f["properties"].get("name") for f in layers["places"]["features"]}
    assert {"landuse", "buildings", "water", "pois"} <= set(layers)


def test_a_country_level_tile_keeps_only_the_main_roads(reader):
    x, y = tile_xy(*VADUZ, 8)
    layers = mapbox_vector_tile.decode(get_tile(reader, "basemap", 8, x, y).content)
    kinds = {f["properties"]["kind"] for f in layers["roads"]["features"]}
    assert kinds and kinds <= {"motorway", "trunk", "primary", "secondary"}
    assert "buildings" not in layers and "pois" not in layers


def test_an_empty_tile_is_204_with_no_body_and_cached(reader):
    response = get_tile(reader, "basemap", 14, 0, 0)
    assert response.status_code == 204 and response.content == b""
    assert bytes(CachedTile.objects.get(tileset="basemap", z=14, x=0, y=0).tile) == b""


def test_reimport_invalidates_the_cached_tiles(reader):
    x, y = tile_xy(*VADUZ, 13)
    first = get_tile(reader, "basemap", 13, x, y).content
    old_version = TileSet.objects.get(name="basemap").version
    assert CachedTile.objects.filter(tileset="basemap", version=old_version, z=13, x=x, y=y).exists()
    call_command("import_basemap", str(LIECHTENSTEIN), stdout=StringIO())
    new_version = TileSet.objects.get(name="basemap").version
    assert new_version == old_version + 1
    assert not CachedTile.objects.filter(tileset="basemap", version__lt=new_version).exists()
    again = get_tile(reader, "basemap", 13, x, y).content
    assert feature_counts(again) == feature_counts(first)  # made again from the new rows (their order may differ)
    assert CachedTile.objects.filter(tileset="basemap", version=new_version, z=13, x=x, y=y).exists()


def test_our_tiles_hold_jurisdictions_and_their_labels(sample_city, reader):
    x, y = tile_xy(99.95, 24.6, 9)  # 凤庆县
    layers = mapbox_vector_tile.decode(get_tile(reader, "ours", 9, x, y).content)
    assert "凤庆县" in {f["properties"]["name"] for f in layers["jurisdictions"]["features"]}
    assert "凤庆县" in {f["properties"]["name"] for f in layers["jurisdiction_labels"]["features"]}


@pytest.mark.parametrize("path,status", [
    ("basemap/15/0/40000.mvt", 400),
    ("basemap/23/0/0.mvt", 400),
    ("roads/1/0/0.mvt", 404),
])
def test_a_tile_that_does_not_exist_is_refused(reader, path, status):
    assert reader.get(f"/api/v1/tiles/{path}").status_code == status


def test_tiles_need_a_login(liechtenstein, db, client):
    assert get_tile(client, "basemap", 14, *tile_xy(*VADUZ, 14)).status_code in (401, 403)


def test_map_sources_name_the_base_map_and_its_attribution(reader, settings):
    body = reader.get("/api/v1/map/sources").json()
    assert body["basemap"]["attribution"] == "© OpenStreetMap contributors"
    assert body["basemap"]["tiles"] == "/api/v1/tiles/basemap/{z}/{x}/{y}.mvt"
    assert body["basemap"]["counts"]["roads"] == 2751


# ---- configured base sources (MAP_SOURCES) -----------------------------------------------------

TIANDITU = {
    "name": "tianditu-vec", "type": "wmts", "url": "http://{s}.tdt.gov.internal/vec_w/wmts",
    "subdomains": ["t0", "t1"], "layer": "vec", "tilematrixset": "w", "format": "tiles",
    "key_param": "tk", "key": "k3y", "attribution": "天地图", "datum": "cgcs2000",
}


def test_map_sources_expand_subdomains_key_and_wmts_query_and_keep_map_tile_url():
    import json

    from config.map_sources import map_sources, source_origins

    sources = map_sources(json.dumps([TIANDITU]), "http://tiles.local/{z}/{x}/{y}.png")
    wmts, legacy = sources
    assert wmts["tiles"][0].startswith("http://t0.tdt.gov.internal/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile")
    assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in wmts["tiles"][1] and wmts["tiles"][1].endswith("&tk=k3y")
    assert legacy == {**legacy, "name": "tiles", "type": "xyz", "datum": "wgs84",
                      "tiles": ["http://tiles.local/{z}/{x}/{y}.png"]}
    assert source_origins(sources) == ["http://t0.tdt.gov.internal", "http://t1.tdt.gov.internal", "http://tiles.local"]


@pytest.mark.parametrize("raw,complaint", [
    ("{", "MAP_SOURCES is not valid JSON"),
    ('[{"name": "a", "url": "ftp://x/{z}"}]', "entry 1: url must be an http(s) URL"),
    ('[{"name": "a", "url": "http://x/{z}", "datum": "bd09"}]', "entry 1: datum must be one of wgs84, cgcs2000, gcj02"),
    ('[{"name": "a", "url": "http://x/{z}", "key": "k"}]', "entry 1: key_param and key go together"),
    ('[{"name": "a", "url": "http://x/{z}", "colour": "red"}]', "entry 1: unknown field(s) colour"),
    ('[{"name": "a", "url": "http://x/{z}"}, {"name": "a", "url": "http://y/{z}"}]', "names must be unique"),
])
def test_a_bad_map_source_stops_start_up_naming_it(raw, complaint):
    from django.core.exceptions import ImproperlyConfigured

    from config.map_sources import map_sources

    with pytest.raises(ImproperlyConfigured) as refused:
        map_sources(raw)
    assert complaint in str(refused.value)


def test_configured_tile_hosts_may_serve_images_and_be_fetched_and_nothing_else():
    from config.csp import policy

    directives = policy(source_origins=["http://t0.tdt.gov.internal"])
    assert "http://t0.tdt.gov.internal" in directives["img-src"] and "http://t0.tdt.gov.internal" in directives["connect-src"]
    assert "http://t0.tdt.gov.internal" not in directives["script-src"] + directives["default-src"]


def test_map_sources_endpoint_serves_the_configured_sources_without_the_bare_key(reader, settings):
    import json

    from config.map_sources import map_sources

    settings.MAP_SOURCES = map_sources(json.dumps([TIANDITU]))
    (source,) = reader.get("/api/v1/map/sources").json()["sources"]
    assert source["name"] == "tianditu-vec" and source["datum"] == "cgcs2000" and "key" not in source
    assert source["tiles"][0].endswith("&tk=k3y")


def test_an_admin_edit_of_a_jurisdiction_starts_a_new_version_of_our_tiles(sample_city, admin_client):
    from geo.models import Jurisdiction

    before = TileSet.objects.get_or_create(name="ours")[0].version
    jurisdiction = Jurisdiction.objects.get(code="530921")
    page = admin_client.get(f"/admin/geo/jurisdiction/{jurisdiction.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(name="凤庆县", geom=jurisdiction.geom.geojson, properties="{}", parent=data.get("parent") or "")
    response = admin_client.post(f"/admin/geo/jurisdiction/{jurisdiction.pk}/change/", data)
    assert response.status_code == 302, response.content[:500]
    assert TileSet.objects.get(name="ours").version == before + 1
