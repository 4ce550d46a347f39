"""Place search, reverse lookup and the base map sources (issue #14)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api import shapes
from api.base import ApiView, errors
from api.serializers import PlacesQuery, ReverseQuery
from dispatch.errors import Invalid
from dispatch.selectors.incidents import incident_addresses_search
from geo import coordinates, gazetteer, selectors
from geo.basemap import basemap_current

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
TILE_URL = "/api/v1/tiles/{tileset}/{{z}}/{{x}}/{{y}}.mvt"
QUESTION = "Two readings of these numbers: {a} or {b}? Ask the caller which."


class MapView(ApiView):
    """Reference geography: any signed-in account may read it."""

    permission_classes = [IsAuthenticated]


class PlacesView(MapView):
    @extend_schema(parameters=[PlacesQuery], responses={200: shapes.PlacesOut, **errors(400)})
    def get(self, request):
        """Find places by name, or read the query as coordinates (lon,lat · lat,lon · DMS · gcj02: · share link)."""
        query = self.parse(PlacesQuery, request.query_params)
        try:
            candidates = coordinates.parse(query["q"])
        except coordinates.CoordinateError as problem:
            raise Invalid(str(problem), field="q") from None
        if candidates is not None:
            return Response(_coordinates_answer(query, candidates))
        results = _merge(
            query["q"], gazetteer.places_search(query=query["q"], near=query.get("near"), limit=query["limit"]),
            incident_addresses_search(user=request.user, query=query["q"], near=query.get("near"), limit=query["limit"]),
            query["limit"],
        )
        return Response({"query": query["q"], "coordinates": False, "ambiguous": False, "question": "",
                         "results": results})


def _coordinates_answer(query, candidates):
    results = [_candidate(c, query.get("near")) for c in candidates]
    ambiguous = len(results) > 1
    question = QUESTION.format(a=results[0]["name"], b=results[1]["name"]) if ambiguous else ""
    return {"query": query["q"], "coordinates": True, "ambiguous": ambiguous, "question": question,
            "results": results}


def _candidate(candidate, near):
    lon, lat = candidate.lon, candidate.lat
    return {
        "name": f"{lat:.6f}, {lon:.6f} (lat, lon)", "kind": "coordinates", "detail": candidate.reading,
        "source": "gcj02" if candidate.datum == "gcj02" else "input", "key": "",
        "location": {"type": "Point", "coordinates": [lon, lat]}, "bbox": None,
        "distance_m": selectors.distance_m(near, (lon, lat)) if near else None,
        "address": selectors.reverse_lookup(lon=lon, lat=lat),
    }


def _merge(query, names, addresses, limit):
    """Return names and earlier incidents' addresses together: those that begin with the query first."""
    wanted = gazetteer.normalise(query)

    def begins(result):
        return 0 if gazetteer.normalise(result["name"]).startswith(wanted) else 1

    return sorted(names + addresses, key=begins)[:limit]


class ReverseView(MapView):
    @extend_schema(parameters=[ReverseQuery], responses={200: shapes.ReverseOut, **errors(400)})
    def get(self, request):
        """Return the nearest named road, place and POI within REVERSE_RADIUS_M, and the county and township."""
        query = self.parse(ReverseQuery, request.query_params)
        return Response(selectors.reverse_lookup(lon=query["lon"], lat=query["lat"]))


class MapSourcesView(MapView):
    @extend_schema(responses={200: shapes.MapSourcesOut, **errors()})
    def get(self, request):
        """Return the configured base tile services, our base map (when imported) and our layers' tiles."""
        current = basemap_current()
        basemap = None
        if current:
            basemap = {"tiles": TILE_URL.format(tileset="basemap"), "attribution": OSM_ATTRIBUTION,
                       **{k: current[k] for k in ("source", "imported_at", "bounds", "counts")}}
        sources = [{k: v for k, v in s.items() if k not in ("key", "key_param")} for s in settings.MAP_SOURCES]
        return Response({"sources": sources, "basemap": basemap, "ours": TILE_URL.format(tileset="ours")})
