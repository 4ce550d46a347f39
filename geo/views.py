"""Map data over REST: parse the query, call one selector, return GeoJSON."""

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.fields import empty
from rest_framework.response import Response

from geo import selectors
from geo.models import Layer

BBOX_FORMAT = "Give four numbers: minlon,minlat,maxlon,maxlat."
BBOX_RANGE = "Longitudes must lie within [-180, 180] and latitudes within [-90, 90]."
BBOX_ORDER = "The minimum must not exceed the maximum (minlon <= maxlon, minlat <= maxlat)."
SIMPLIFY_WITH_ZOOM = "Give simplify or zoom, not both."
LAYER_NOT_FOUND = "no layer named {name}"


@extend_schema_field(OpenApiTypes.STR)
class BboxField(serializers.Field):
    """A WGS 84 bounding box written as `minlon,minlat,maxlon,maxlat`."""

    default_error_messages = {"format": BBOX_FORMAT, "range": BBOX_RANGE, "order": BBOX_ORDER}

    def get_value(self, dictionary):
        """Return the raw value: an empty `bbox=` is refused, not taken for no bbox."""
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data):
        """Return the box as a tuple of four floats, or fail naming what is wrong."""
        try:
            box = tuple(float(part) for part in str(data).split(","))
        except ValueError:
            self.fail("format")
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            self.fail("format")
        lons, lats = box[0::2], box[1::2]
        if any(abs(lon) > 180 for lon in lons) or any(abs(lat) > 90 for lat in lats):
            self.fail("range")
        if lons[0] > lons[1] or lats[0] > lats[1]:
            self.fail("order")
        return box

    def to_representation(self, value):
        """Return the box in its query-string form."""
        return ",".join(str(v) for v in value)


class BboxQuery(serializers.Serializer):
    """Query parameters of a layer's features."""

    bbox = BboxField(required=False, help_text="minlon,minlat,maxlon,maxlat in WGS 84")


class JurisdictionQuery(BboxQuery):
    """Query parameters of the jurisdictions map."""

    simplify = serializers.FloatField(
        required=False, min_value=0, max_value=100_000, source="simplify_m",
        help_text="Simplification tolerance in meters.",
    )
    zoom = serializers.IntegerField(
        required=False, min_value=0, max_value=24,
        help_text="Web Mercator zoom level; simplifies to one screen pixel.",
    )

    def validate(self, attrs):
        """Refuse a query giving both tolerances."""
        if "simplify_m" in attrs and "zoom" in attrs:
            raise serializers.ValidationError({"zoom": [SIMPLIFY_WITH_ZOOM]})
        return attrs


@extend_schema(parameters=[JurisdictionQuery], responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def jurisdictions(request):
    """Return the jurisdictions in the bbox as a GeoJSON FeatureCollection."""
    query = JurisdictionQuery(data=request.query_params)
    if not query.is_valid():
        return _errors(query.errors, status.HTTP_400_BAD_REQUEST)
    return Response(selectors.jurisdictions_geojson(**query.validated_data))


@extend_schema(responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def layers(request):
    """Return the spatial layers with their feature counts."""
    return Response({"layers": selectors.layers_list()})


@extend_schema(
    parameters=[BboxQuery], responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT}
)
@api_view(["GET"])
def layer_features(request, name):
    """Return a layer's features in the bbox as a GeoJSON FeatureCollection."""
    query = BboxQuery(data=request.query_params)
    if not query.is_valid():
        return _errors(query.errors, status.HTTP_400_BAD_REQUEST)
    try:
        collection = selectors.layer_features_geojson(layer_name=name, **query.validated_data)
    except Layer.DoesNotExist:
        return _errors({"layer": [LAYER_NOT_FOUND.format(name=name)]}, status.HTTP_404_NOT_FOUND)
    return Response(collection)


def _errors(errors, code):
    """Return an error response naming the fields at fault."""
    return Response({"errors": errors}, status=code)
