"""Vector tiles: GET /api/v1/tiles/{basemap|ours}/{z}/{x}/{y}.mvt (Mapbox Vector Tile 2.1)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from api.base import ApiView, errors
from dispatch.errors import Invalid, NotFound
from geo.tiles import MAX_ZOOM, TILESETS, TileOutOfRange, tile_get

MVT = "application/vnd.mapbox-vector-tile"
ERR_TILESET = "no tile set named {name} (basemap or ours)"
# A tile of the base map changes only when it is re-imported, and then its URL's answer does;
# a browser may keep it briefly without asking again.
CACHE_CONTROL = "private, max-age=300"


class MVTRenderer(BaseRenderer):
    """Lets a client ask for Accept: application/vnd.mapbox-vector-tile; the tile is sent as bytes."""

    media_type = MVT
    format = "mvt"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class TileView(ApiView):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, MVTRenderer]

    @extend_schema(
        operation_id="tiles_retrieve",
        parameters=[
            OpenApiParameter("format", exclude=True),  # errors are JSON whatever is asked
            OpenApiParameter("tileset", OpenApiTypes.STR, OpenApiParameter.PATH, enum=sorted(TILESETS)),
            OpenApiParameter("z", {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}, OpenApiParameter.PATH),
            OpenApiParameter("x", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH,
                             description="0 … 2^z − 1"),
            OpenApiParameter("y", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH,
                             description="0 … 2^z − 1, from the north"),
        ],
        responses={
            (200, MVT): OpenApiResponse(OpenApiTypes.BINARY, description="the tile (Mapbox Vector Tile)"),
            204: OpenApiResponse(description="an empty tile: nothing here at this zoom"),
            **errors(400, 404),
        },
    )
    def get(self, request, tileset, z, x, y):
        """Return one vector tile of the base map or of our layers; 204 when it is empty."""
        if tileset not in TILESETS:
            raise NotFound(ERR_TILESET.format(name=tileset), field="tileset")
        try:
            tile = tile_get(tileset=tileset, z=z, x=x, y=y)
        except TileOutOfRange as problem:
            raise Invalid(str(problem), field="tile") from None
        if not tile:
            response = HttpResponse(status=204)
        else:
            response = HttpResponse(tile, content_type=MVT)
        response["Cache-Control"] = CACHE_CONTROL
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        """Render errors as JSON whatever the client accepted (a tile client may accept only MVT)."""
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
