"""Read boundary and facility files into clean, validated records (no database writes).

GeoJSON is read as JSON, so nested properties keep their structure; TopoJSON,
Shapefile and whatever else GDAL reads go through GDAL and are reprojected to WGS 84.
Every problem is a GeodataError naming the file and the feature.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from django.contrib.gis.gdal import DataSource, GDALException
from shapely.geometry import shape

from geo.gcj02 import geometry_gcj02_to_wgs84

POLYGONAL = {"Polygon", "MultiPolygon"}


class GeodataError(ValueError):
    """A file that cannot be imported; the message names the file and the feature."""


@dataclass
class SourceFeature:
    number: int  # 1-based position in the file, for messages
    properties: dict
    geometry: shapely.Geometry | None


@dataclass
class Record:
    """One feature ready to store: geometry valid, WGS 84, fields resolved."""

    number: int
    key: str
    name: str
    geometry: shapely.Geometry
    properties: dict = field(default_factory=dict)
    parent_key: str | None = None
    repaired: bool = False


def read_features(path):
    """Return the features of a GeoJSON, TopoJSON, Shapefile or other GDAL-readable file."""
    path = Path(path)
    if not path.is_file():
        raise GeodataError(f"{path}: no such file")
    if path.suffix.lower() in {".geojson", ".json"} and not _is_topojson(path):
        return _read_geojson(path)
    return _read_with_gdal(path)


def _is_topojson(path):
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("utf-8", "replace")
    return '"Topology"' in head


def _read_geojson(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeodataError(f"{path}: not valid GeoJSON ({exc})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise GeodataError(f"{path}: not a GeoJSON FeatureCollection")
    if not isinstance(data.get("features"), list):
        raise GeodataError(f"{path}: 'features' must be a list")
    features = []
    for number, feature in enumerate(data["features"], start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise GeodataError(f"{path}: feature {number}: not a GeoJSON Feature object")
        try:
            geometry = shape(feature["geometry"]) if feature.get("geometry") else None
        except (KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
            raise GeodataError(f"{path}: feature {number}: unreadable geometry ({exc})") from None
        features.append(SourceFeature(number, feature.get("properties") or {}, geometry))
    return features


def _read_with_gdal(path):
    try:
        source = DataSource(str(path))
    except GDALException as exc:
        raise GeodataError(f"{path}: cannot be read as geodata ({exc})") from None
    features = []
    for layer in source:
        for feature in layer:
            geometry = _gdal_geometry(feature)
            if geometry is not None and layer.srs is not None and layer.srs.srid != 4326:
                geometry.transform(4326)
            features.append(
                SourceFeature(
                    len(features) + 1,
                    {name: _gdal_value(feature.get(name)) for name in layer.fields},
                    shapely.from_wkb(bytes(geometry.wkb)) if geometry is not None else None,
                )
            )
    return features


def _gdal_geometry(feature):
    try:
        return feature.geom
    except GDALException:
        return None


def _gdal_value(value):
    """Return a GDAL field value, with JSON objects and arrays decoded."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def lookup(properties, dotted):
    """Return properties[a][b] for 'a.b', or None when any part is missing."""
    if dotted in properties:
        return properties[dotted]
    value = properties
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def clean_geometry(path, feature, label, *, polygonal, gcj02):
    """Return (valid WGS 84 geometry, repaired?) or raise naming the feature."""
    geometry = feature.geometry
    if geometry is None or geometry.is_empty:
        raise GeodataError(f"{path}: feature {label}: has no geometry")
    if polygonal and geometry.geom_type not in POLYGONAL:
        raise GeodataError(
            f"{path}: feature {label}: geometry is {geometry.geom_type}, "
            "jurisdictions need Polygon or MultiPolygon"
        )
    geometry = shapely.force_2d(geometry)  # heights are not kept; the columns are 2D
    _check_lon_lat(path, label, geometry)
    if gcj02:
        geometry = geometry_gcj02_to_wgs84(geometry)
    repaired = not geometry.is_valid
    if repaired:
        geometry = shapely.make_valid(geometry)
        if polygonal:
            geometry = _polygons_only(geometry)
            if geometry.is_empty:
                raise GeodataError(f"{path}: feature {label}: no area left after repair")
    if polygonal and geometry.geom_type == "Polygon":
        geometry = shapely.MultiPolygon([geometry])
    return geometry, repaired


def _check_lon_lat(path, label, geometry):
    minx, miny, maxx, maxy = geometry.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise GeodataError(
            f"{path}: feature {label}: coordinates are not longitude/latitude "
            f"(bounds {minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g}); reproject the file to WGS 84"
        )


def _polygons_only(geometry):
    parts = shapely.get_parts(geometry)
    polygons = []
    for part in parts:
        if part.geom_type == "Polygon":
            polygons.append(part)
        elif part.geom_type == "MultiPolygon":
            polygons.extend(part.geoms)
    return shapely.MultiPolygon(polygons)


def _required(path, feature, dotted, option):
    value = lookup(feature.properties, dotted)
    if value is None or value == "":
        known = ", ".join(sorted(feature.properties)) or "none"
        raise GeodataError(
            f"{path}: feature {feature.number}: no field {dotted!r} (given by {option}); "
            f"its fields are: {known}"
        )
    return str(value)


def jurisdiction_records(path, *, name_field, code_field, parent_field=None, gcj02=False):
    """Return validated jurisdiction records from a file."""
    records = []
    for feature in read_features(path):
        code = _required(path, feature, code_field, "--code-field")
        name = _required(path, feature, name_field, "--name-field")
        label = f"{feature.number} ({name}, {code})"
        geometry, repaired = clean_geometry(path, feature, label, polygonal=True, gcj02=gcj02)
        parent = lookup(feature.properties, parent_field) if parent_field else None
        records.append(
            Record(
                feature.number, code, name, geometry, feature.properties,
                parent_key=str(parent) if parent not in (None, "") else None, repaired=repaired,
            )
        )
    _refuse_duplicate_keys(path, records, "--code-field")
    return _nonempty(path, records)


def layer_records(path, *, name_field=None, code_field=None, gcj02=False):
    """Return validated layer feature records; the key is the code field or the position."""
    records = []
    for feature in read_features(path):
        key = _required(path, feature, code_field, "--code-field") if code_field else str(feature.number)
        name = _required(path, feature, name_field, "--name-field") if name_field else ""
        label = f"{feature.number} ({name or key})"
        geometry, repaired = clean_geometry(path, feature, label, polygonal=False, gcj02=gcj02)
        records.append(Record(feature.number, key, name, geometry, feature.properties, repaired=repaired))
    _refuse_duplicate_keys(path, records, "--code-field")
    return _nonempty(path, records)


def _refuse_duplicate_keys(path, records, option):
    seen = {}
    for record in records:
        if record.key in seen:
            raise GeodataError(
                f"{path}: features {seen[record.key]} and {record.number} share the code "
                f"{record.key!r} ({option} must be unique)"
            )
        seen[record.key] = record.number


def _nonempty(path, records):
    if not records:
        raise GeodataError(f"{path}: holds no features")
    return records
