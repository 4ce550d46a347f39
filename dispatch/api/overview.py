"""Reference and overview reads: categories and plans, sub-centers, route preview, dashboard."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from dispatch import selectors
from dispatch.api import serializers as s
from dispatch.api import shapes
from dispatch.api.base import ApiView, errors
from dispatch.api.permissions import EVERYONE


class CategoriesView(ApiView):
    read_roles = EVERYONE

    @extend_schema(operation_id="categories_list", responses={200: shapes.CategoriesOut, **errors()})
    def get(self, request):
        """List the incident categories with their national class and response plans (预案)."""
        return Response({"categories": selectors.categories_list()})


class SubCentersView(ApiView):
    @extend_schema(operation_id="subcenters_list", responses={200: shapes.SubCentersOut, **errors()})
    def get(self, request):
        """List the sub-centers with their kind, covered jurisdictions, duty phone and terminal health."""
        return Response({"subcenters": selectors.subcenters_list()})


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
