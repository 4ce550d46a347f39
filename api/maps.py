"""Map data over REST: jurisdictions, layers and their features as GeoJSON."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api import shapes
from api.base import ApiView, errors
from api.serializers import BboxQuery, JurisdictionQuery
from dispatch.errors import NotFound
from geo import selectors
from geo.models import Layer

LAYER_NOT_FOUND = gettext_lazy("no layer named {name}")


class MapView(ApiView):
    """Reference geography: any signed-in account may read it."""

    permission_classes = [IsAuthenticated]


class JurisdictionsView(MapView):
    @extend_schema(parameters=[JurisdictionQuery],
                   responses={200: shapes.JurisdictionCollectionOut, **errors(400)})
    def get(self, request):
        """Return the jurisdictions in the bbox as a GeoJSON FeatureCollection."""
        query = self.parse(JurisdictionQuery, request.query_params)
        return Response(selectors.jurisdictions_geojson(**query))


class LayersView(MapView):
    @extend_schema(responses={200: shapes.LayersOut, **errors()})
    def get(self, request):
        """Return the spatial layers with their feature counts."""
        return Response({"layers": selectors.layers_list()})


class LayerFeaturesView(MapView):
    @extend_schema(parameters=[BboxQuery],
                   responses={200: shapes.LayerCollectionOut, **errors(400, 404)})
    def get(self, request, name):
        """Return a layer's features in the bbox as a GeoJSON FeatureCollection."""
        query = self.parse(BboxQuery, request.query_params)
        try:
            return Response(selectors.layer_features_geojson(layer_name=name, **query))
        except Layer.DoesNotExist:
            raise NotFound(LAYER_NOT_FOUND.format(name=name), field="layer") from None
