"""Read map data: jurisdictions, layers and features, filtered and simplified in PostGIS."""

import json
import math

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.db.models import Count, F, Func, Value

from geo import sql
from geo.models import Feature, Jurisdiction, Layer
from geo.router import tolerance_degrees

Bbox = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat (WGS 84)

METERS_PER_DEGREE = 111_320.0  # one degree along the equator on WGS 84
MAX_MERCATOR_LAT = 85.0511  # beyond this Web Mercator maps show nothing, and cos() nears 0
TILE_PIXELS = 256
GEOJSON_DECIMALS = 6  # about 0.1 m; RFC 7946 §11.2 finds 6 decimals enough


def simplify_tolerance_deg(*, bbox: Bbox | None, simplify_m: float | None, zoom: int | None):
    """Return the simplification tolerance in degrees, or None to keep every vertex."""
    if zoom is not None:
        # One screen pixel: in Web Mercator that is a fixed span of longitude at any latitude.
        return 360.0 / (TILE_PIXELS * 2**zoom)
    if not simplify_m:
        return None
    # Degrees of longitude at the bbox's latitude; without a bbox the equator is the strictest.
    lat = (bbox[1] + bbox[3]) / 2 if bbox else 0.0
    lat = max(-MAX_MERCATOR_LAT, min(MAX_MERCATOR_LAT, lat))
    return simplify_m / (METERS_PER_DEGREE * math.cos(math.radians(lat)))


def jurisdictions_geojson(
    *, bbox: Bbox | None = None, simplify_m: float | None = None, zoom: int | None = None
) -> dict:
    """Return the jurisdictions overlapping `bbox` as a GeoJSON FeatureCollection."""
    tolerance = simplify_tolerance_deg(bbox=bbox, simplify_m=simplify_m, zoom=zoom)
    rows = _in_bbox(Jurisdiction.objects.all(), bbox).annotate(geojson=_geojson("geom", tolerance))
    rows = rows.values_list("code", "name", "level", "parent__code", "geojson")
    return _collection(
        _feature(code, geojson, code=code, name=name, level=level, parent=parent)
        for code, name, level, parent, geojson in rows
    )


def layers_list() -> list[dict]:
    """Return every layer with its title, attribution and feature count."""
    layers = Layer.objects.annotate(feature_count=Count("features")).order_by("name")
    return list(layers.values("name", "title", "attribution", "feature_count"))


def layer_features_geojson(*, layer_name: str, bbox: Bbox | None = None) -> dict:
    """Return a layer's features overlapping `bbox`; raise Layer.DoesNotExist if it is unknown."""
    layer = Layer.objects.get(name=layer_name)
    rows = _in_bbox(Feature.objects.filter(layer=layer), bbox).annotate(geojson=_geojson("geom"))
    rows = rows.values_list("key", "name", "properties", "geojson")
    return _collection(
        _feature(key, geojson, key=key, name=name, properties=properties)
        for key, name, properties, geojson in rows
    )


def layer_features_near(*, layer_name: str, lon: float, lat: float, radius_m: float, limit: int) -> list[dict]:
    """Return a layer's features within radius_m of a point, nearest first, each with distance_m.

    Distances are on the spheroid (geography); the geometry GiST index narrows the
    candidates first with a box at least radius_m wide at this latitude. Raise
    Layer.DoesNotExist for an unknown layer.
    """
    layer = Layer.objects.get(name=layer_name)
    params = {
        "layer": layer.id, "lon": lon, "lat": lat, "meters": radius_m, "limit": limit,
        "degrees": tolerance_degrees(lat, radius_m), "decimals": GEOJSON_DECIMALS,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.FEATURES_NEAR, params)
        rows = cursor.fetchall()
    return [
        _feature(key, geojson, key=key, name=name, properties=_json(properties), distance_m=round(distance, 1))
        for key, name, properties, geojson, distance in rows
    ]


def _json(value):
    """Return a jsonb value as Python: raw cursors hand it over as text."""
    return json.loads(value) if isinstance(value, str) else value


def _in_bbox(queryset, bbox: Bbox | None):
    """Return `queryset` narrowed to geometries whose bounding box overlaps `bbox` (GiST `&&`)."""
    if bbox is None:
        return queryset
    return queryset.filter(geom__bboverlaps=Polygon.from_bbox(bbox))


def _geojson(field: str, tolerance: float | None = None) -> AsGeoJSON:
    """Return an expression rendering `field` as GeoJSON, simplified when `tolerance` is set."""
    geom = F(field)
    if tolerance:
        simplified = Func(geom, Value(tolerance), function="ST_SimplifyPreserveTopology")
        # GEOS turns a one-part MultiPolygon into a Polygon; ST_Multi keeps the column's type.
        geom = Func(simplified, function="ST_Multi", output_field=GeometryField(srid=4326))
    return AsGeoJSON(geom, precision=GEOJSON_DECIMALS)


def _feature(feature_id: str, geojson: str, **properties) -> dict:
    """Return one GeoJSON Feature."""
    geometry = json.loads(geojson)
    return {"type": "Feature", "id": feature_id, "geometry": geometry, "properties": properties}


def _collection(features) -> dict:
    """Return a GeoJSON FeatureCollection of `features`."""
    return {"type": "FeatureCollection", "features": list(features)}


def reverse_lookup(*, lon: float, lat: float, radius_m: float | None = None) -> dict:
    """Return what is at a point: the nearest named road, place and POI within radius_m, the county and township.

    One statement; each part is None when nothing qualifies (no base map, outside every jurisdiction).
    """
    meters = settings.REVERSE_RADIUS_M if radius_m is None else radius_m
    params = {"lon": lon, "lat": lat, "meters": meters, "degrees": tolerance_degrees(lat, meters)}
    with connection.cursor() as cursor:
        cursor.execute(sql.REVERSE_LOOKUP, params)
        road, place, poi, county, township = cursor.fetchone()
    return {
        "road": _json(road), "place": _json(place), "poi": _json(poi),
        "county": _json(county), "township": _json(township),
    }


EARTH_RADIUS_M = 6_371_008.8  # the mean radius: a haversine distance within 0.5 % of the spheroid's


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Return the great-circle distance in meters between two (lon, lat) points, to 0.1 m."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))), 1)
