"""Reference and overview reads: categories and plans, sub-centers, route preview, the leaders' figures."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from api import serializers as s
from api import shapes
from api.base import ApiView, errors
from api.permissions import EVERYONE
from dispatch import selectors


class CategoriesView(ApiView):
    read_roles = EVERYONE

    @extend_schema(operation_id="categories_list", responses={200: shapes.CategoriesOut, **errors()})
    def get(self, request):
        """List the incident categories with their national class and response plans (预案)."""
        return Response({"categories": selectors.categories_list()})


class SubCentersView(ApiView):
    @extend_schema(
        operation_id="subcenters_list", parameters=[s.SubCentersQuery],
        responses={200: shapes.SubCentersOut, **errors(400)},
    )
    def get(self, request):
        """List the sub-centers (of a kind; near a point: nearest first) with coverage, duty phone and terminals."""
        query = self.parse(s.SubCentersQuery, request.query_params)
        return Response({"subcenters": selectors.subcenters_list(**query)})


class RouteView(ApiView):
    @extend_schema(
        operation_id="route_preview", parameters=[s.RouteQuery], responses={200: shapes.RoutePreviewOut, **errors(400)}
    )
    def get(self, request):
        """Preview who would receive an incident at this point, per kind, and why; nothing is written."""
        query = self.parse(s.RouteQuery, request.query_params)
        return Response(selectors.route_preview(**query))


class DashboardView(ApiView):
    @extend_schema(
        operation_id="dashboard",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="incidents by status, open ones by "
                   "category and severity, tickets by status, tickets overdue now"), **errors()},
    )
    def get(self, request):
        """Return the live figures for leaders."""
        return Response(selectors.dashboard_figures())


class DashboardFiguresView(ApiView):
    @extend_schema(
        operation_id="dashboard_figures", parameters=[s.FiguresQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="per sub-center median and 90th "
                   "percentile seconds from issue to delivery, acceptance, first feedback and closure; the "
                   "slowest per stage; incidents per hour"), **errors(400)},
    )
    def get(self, request):
        """Return the timeliness and hourly figures for leaders (the last 24 hours, or one day)."""
        query = self.parse(s.FiguresQuery, request.query_params)
        if "date" in query:
            start, end = selectors.day_window(query["date"])
        else:
            start, end = selectors.last_hours_window(24)
        return Response(selectors.dashboard_timeliness(start=start, end=end))
