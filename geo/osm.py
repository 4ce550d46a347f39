"""Read an OpenStreetMap extract (.osm.pbf or .osm) with GDAL's OSM driver into base-map records.

No database writes: geo.basemap stores what this returns. The layers and the tags that select
them (each filter is one GDAL attribute filter, so GDAL's own counts can check an import):

| layer | GDAL layer | selected by | kind |
|---|---|---|---|
| roads | lines | `highway` | road class (motorway … path) |
| waterways | lines | `waterway` | river, canal, stream… |
| water | multipolygons | `natural=water`, `landuse=reservoir/basin`, `waterway=riverbank` | water |
| landuse | multipolygons | `landuse` (but reservoir, basin) | the landuse value |
| buildings | multipolygons | `building` | building |
| places | points | `place` | city, town, village… |
| pois | points without `place` | `amenity`, `shop`, `tourism`, `emergency`, `healthcare`, `historic`, `leisure`, `office` | the tag's value |
"""

import re
from ctypes import c_char_p, c_int, c_void_p
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.gdal.feature import Feature
from django.contrib.gis.gdal.libgdal import lgdal
from django.contrib.gis.gdal.prototypes import ds as capi

from geo.importers import GeodataError

LAYERS = ("roads", "waterways", "water", "landuse", "buildings", "places", "pois")

# highway=* → (class, the zoom from which it is drawn)
ROAD_CLASSES = {
    "motorway": ("motorway", 5), "motorway_link": ("motorway", 10), "trunk": ("trunk", 6),
    "trunk_link": ("trunk", 10), "primary": ("primary", 8), "primary_link": ("primary", 11),
    "secondary": ("secondary", 9), "secondary_link": ("secondary", 12), "tertiary": ("tertiary", 11),
    "tertiary_link": ("tertiary", 12), "unclassified": ("minor", 12), "residential": ("minor", 13),
    "road": ("minor", 13), "living_street": ("minor", 14), "service": ("service", 14),
    "track": ("track", 14), "pedestrian": ("path", 14), "footway": ("path", 15), "path": ("path", 15),
    "cycleway": ("path", 15), "bridleway": ("path", 15), "steps": ("path", 15),
}
OTHER_ROAD = ("other", 15)
WATERWAY_ZOOMS = {"river": 8, "canal": 10, "stream": 12}
PLACE_ZOOMS = {"city": 4, "town": 8, "village": 11, "suburb": 12, "hamlet": 13}
POI_KEYS = ("amenity", "shop", "tourism", "emergency", "healthcare", "historic", "leisure", "office")
POI_EARLY = {"hospital", "fire_station", "police", "townhall"}  # drawn from zoom 13, the rest from 15
WATER_LANDUSE = {"reservoir", "basin"}
MIN_ZOOM = {"water": 8, "landuse": 10, "buildings": 14}
DEFAULT_PLACE_ZOOM = 14

_HSTORE_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


@dataclass
class Record:
    """One base-map feature: its layer, class, name, first zoom and WGS 84 geometry."""

    layer: str
    kind: str
    name: str
    min_zoom: int
    osm_id: str
    geometry: shapely.Geometry


@dataclass
class Extract:
    records: list[Record] = field(default_factory=list)
    dropped: int = 0  # features whose geometry could not be made valid

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(LAYERS, 0)
        for record in self.records:
            found[record.layer] += 1
        return found


def other_tags(text: str | None) -> dict:
    """Return the tags GDAL packs into `other_tags` ("k"=>"v","k2"=>"v2") as a dict."""
    if not text:
        return {}
    return {key.replace('\\"', '"'): value.replace('\\"', '"') for key, value in _HSTORE_PAIR.findall(text)}


_POI_WHERE = " OR ".join(f"other_tags LIKE '%\"{key}\"=>%'" for key in POI_KEYS)
# Each base-map layer is one GDAL attribute filter (OGR SQL) on one of the driver's layers:
# GDAL selects, so `ogrinfo -sql "SELECT COUNT(*) FROM <layer> WHERE <filter>"` counts the same.
# (The OSM driver emits a few closed ways differently with and without a filter; selecting
# through the filter keeps the import and GDAL's own counts in step.)
FILTERS = {
    "roads": ("lines", "highway IS NOT NULL"),
    "waterways": ("lines", "waterway IS NOT NULL"),
    "water": ("multipolygons", "natural = 'water' OR landuse IN ('reservoir', 'basin') "
                               "OR other_tags LIKE '%\"waterway\"=>\"riverbank\"%'"),
    "landuse": ("multipolygons", "landuse IS NOT NULL AND landuse NOT IN ('reservoir', 'basin')"),
    "buildings": ("multipolygons", "building IS NOT NULL"),
    "places": ("points", "place IS NOT NULL"),
    "pois": ("points", f"place IS NULL AND ({_POI_WHERE})"),
}


def classify(layer: str, fields: dict) -> tuple[str, int]:
    """Return the (kind, min_zoom) of a feature that the layer's filter selected."""
    tags = other_tags(fields.get("other_tags"))
    if layer == "roads":
        return ROAD_CLASSES.get(fields["highway"], OTHER_ROAD)
    if layer == "waterways":
        return fields["waterway"], WATERWAY_ZOOMS.get(fields["waterway"], 13)
    if layer == "places":
        return fields["place"], PLACE_ZOOMS.get(fields["place"], DEFAULT_PLACE_ZOOM)
    if layer == "pois":
        value = next(tags[key] for key in POI_KEYS if tags.get(key))
        return value, 13 if value in POI_EARLY else 15
    if layer == "landuse":
        return fields["landuse"], MIN_ZOOM["landuse"]
    return ("water", MIN_ZOOM["water"]) if layer == "water" else ("building", MIN_ZOOM["buildings"])


def read_extract(path) -> Extract:
    """Return the base-map records of an OSM extract; raise GeodataError naming the file and the fault."""
    path = Path(path)
    if not path.is_file():
        raise GeodataError(f"{path}: no such file")
    try:
        source = DataSource(str(path))
    except GDALException as exc:
        raise GeodataError(f"{path}: cannot be read as geodata ({exc})") from None
    if source.driver.name != "OSM":
        raise GeodataError(f"{path}: not an OpenStreetMap extract (GDAL reads it as {source.driver.name})")
    extract = Extract()
    for layer, (gdal_layer, where) in FILTERS.items():
        _read_layer(path, layer, source[gdal_layer], where, extract)
    if not extract.records:
        raise GeodataError(f"{path}: holds no roads, water, land use, buildings, places or points of interest")
    return extract


def _read_layer(path, name, gdal_layer, where, extract):
    _error_reset()
    if _set_attribute_filter(gdal_layer._ptr, where.encode()) != 0:
        raise GeodataError(f"{path}: GDAL refused the filter of {name}: {where}")
    capi.reset_reading(gdal_layer._ptr)
    wanted = [f for f in ("osm_id", "osm_way_id", "name", "highway", "waterway", "place", "landuse", "other_tags")
              if f in gdal_layer.fields]
    while True:
        try:
            feature = Feature(capi.get_next_feature(gdal_layer._ptr), gdal_layer)
        except GDALException:  # no next feature
            break
        _add_feature(name, {f: feature.get(f) for f in wanted}, feature, extract)
    _set_attribute_filter(gdal_layer._ptr, None)
    problem = _error_message()
    if problem:
        raise GeodataError(f"{path}: damaged or truncated OSM data in layer {gdal_layer.name} ({problem})")


def _add_feature(layer, fields, feature, extract):
    kind, zoom = classify(layer, fields)
    geometry = _geometry(feature)
    if geometry is None:
        extract.dropped += 1
        return
    osm_id = str(fields.get("osm_id") or fields.get("osm_way_id") or "")
    extract.records.append(Record(layer, kind[:32], (fields.get("name") or "")[:300], zoom, osm_id, geometry))


def _geometry(feature):
    """Return the feature's 2D geometry, repaired when invalid; None when nothing valid is left."""
    try:
        geometry = shapely.force_2d(shapely.from_wkb(bytes(feature.geom.wkb)))
    except (GDALException, shapely.errors.GEOSException):
        return None
    if not geometry.is_valid:
        polygonal = geometry.geom_type in ("Polygon", "MultiPolygon")
        geometry = shapely.make_valid(geometry)
        if polygonal and geometry.geom_type == "GeometryCollection":
            geometry = shapely.MultiPolygon(
                [p for part in geometry.geoms if part.geom_type in ("Polygon", "MultiPolygon")
                 for p in getattr(part, "geoms", [part])]
            )
    return None if geometry.is_empty else geometry


# GDAL reports a parse error through its error handler and then simply ends the layer; the last
# error is the only sign that the layer was cut short.
_last_error_type = lgdal.CPLGetLastErrorType
_last_error_type.restype = c_int
_last_error_msg = lgdal.CPLGetLastErrorMsg
_last_error_msg.restype = c_char_p
CE_FAILURE = 3
_set_attribute_filter = lgdal.OGR_L_SetAttributeFilter
_set_attribute_filter.argtypes = [c_void_p, c_char_p]
_set_attribute_filter.restype = c_int


def _error_reset():
    lgdal.CPLErrorReset()


def _error_message():
    if _last_error_type() >= CE_FAILURE:
        return (_last_error_msg() or b"").decode("utf-8", "replace")
    return ""
