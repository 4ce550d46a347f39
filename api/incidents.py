"""Incidents over REST: report, list as GeoJSON, one with its timeline, assign, close, nearby."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from api import serializers as s
from api import shapes
from api.base import POST, ApiView, errors
from api.permissions import DISPATCHERS, EVERYONE
from dispatch import selectors, services
from dispatch.errors import Invalid
from dispatch.models import Incident
from dispatch.representations import incident_data, ticket_data

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_MAX = 128
ERR_IDEMPOTENCY_KEY = gettext_lazy("an {header} is 1 to {max} printable ASCII characters")

# Printable ASCII without surrounding spaces (HTTP drops them), as idempotency_key() checks.
IDEMPOTENCY_SCHEMA = {
    "type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_MAX, "pattern": "^[!-~](?:[ -~]*[!-~])?$",
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, IDEMPOTENCY_SCHEMA, OpenApiParameter.HEADER,
    description="A retry with the same key returns the first result (200) and creates nothing; "
    "the same key with a different body is refused (409).",
)


def idempotency_key(request):
    """Return the request's Idempotency-Key, None without one, or raise Invalid."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_MAX or not key.isascii() or not key.isprintable():
        raise Invalid(ERR_IDEMPOTENCY_KEY.format(header=IDEMPOTENCY_HEADER, max=IDEMPOTENCY_MAX), field="idempotency_key")
    return key


def report_source(request):
    """Return where a report came from: the console (a browser session) or a machine client."""
    if isinstance(request.successful_authenticator, SessionAuthentication):
        return Incident.Source.CONSOLE
    return Incident.Source.API


class IncidentsView(ApiView):
    read_roles = EVERYONE
    write_roles = DISPATCHERS

    @extend_schema(
        operation_id="incidents_list", parameters=[s.IncidentListQuery],
        responses={200: OpenApiResponse(shapes.IncidentCollectionOut, description="a GeoJSON FeatureCollection; "
                   "each feature's properties are the incident's fields"), **errors(400)},
    )
    def get(self, request):
        """Search incidents, newest first, one page as GeoJSON; an operator sees only their sub-center's."""
        query = self.parse(s.IncidentListQuery, request.query_params)
        return Response(selectors.incident_list_geojson(user=request.user, **query))

    @extend_schema(
        operation_id="incidents_report", request=s.IncidentReportIn, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: shapes.IncidentReportOut, 200: OpenApiResponse(shapes.IncidentReportOut, description="a retry"),
                   **errors(*POST, 409)},
    )
    def post(self, request):
        """Report an incident: it is stored, routed and its tickets issued in one transaction."""
        key = idempotency_key(request)
        data = self.parse(s.IncidentReportIn, request.data)
        lon, lat = data.pop("location")
        report = services.incident_report(
            actor=request.user, lon=lon, lat=lat, source=report_source(request), idempotency_key=key, **data
        )
        body = selectors.incident_report_result(incident=report.incident, tickets=report.tickets)
        return Response(body, status=status.HTTP_201_CREATED if report.created else status.HTTP_200_OK)


class IncidentView(ApiView):
    read_roles = EVERYONE

    @extend_schema(operation_id="incidents_detail", responses={200: shapes.IncidentDetailOut, **errors(404)})
    def get(self, request, incident_id):
        """Return one incident with its tickets, feedback and event timeline."""
        return Response(selectors.incident_detail(user=request.user, incident_id=incident_id))


class IncidentTimelineView(ApiView):
    read_roles = EVERYONE

    @extend_schema(operation_id="incidents_timeline", responses={200: shapes.TimelineOut, **errors(404)})
    def get(self, request, incident_id):
        """Return the incident's timeline from the event log: who did what, when, for each ticket."""
        return Response(selectors.incident_timeline(user=request.user, incident_id=incident_id))


class IncidentAssignView(ApiView):
    write_roles = DISPATCHERS

    @extend_schema(
        operation_id="incidents_assign", request=s.AssignIn,
        responses={201: shapes.TicketIssuedOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, incident_id):
        """Assign a sub-center by hand (from triage, or after a rejection): a new ticket."""
        data = self.parse(s.AssignIn, request.data)
        ticket = services.incident_assign(
            actor=request.user, incident_id=incident_id, subcenter_code=data["subcenter"], note=data["note"]
        )
        ticket = selectors.ticket_get(user=request.user, ticket_id=ticket.id)
        incident = selectors.incident_get(user=request.user, incident_id=incident_id)
        return Response(
            {"ticket": ticket_data(ticket), "incident": incident_data(incident)}, status=status.HTTP_201_CREATED
        )


class IncidentCloseView(ApiView):
    write_roles = DISPATCHERS

    @extend_schema(
        operation_id="incidents_close", request=s.CloseIn,
        responses={200: shapes.IncidentCloseOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, incident_id):
        """Close an incident once every one of its tickets is closed, rejected or cancelled."""
        data = self.parse(s.CloseIn, request.data)
        incident = services.incident_close(actor=request.user, incident_id=incident_id, reason=data["reason"])
        incident = selectors.incident_get(user=request.user, incident_id=incident.id)
        return Response({"incident": incident_data(incident)})


class IncidentNearbyView(ApiView):
    read_roles = EVERYONE

    @extend_schema(
        operation_id="incidents_nearby", parameters=[s.NearbyQuery],
        responses={200: OpenApiResponse(shapes.NearbyOut, description="a GeoJSON FeatureCollection, nearest "
                   "first; each feature's properties carry key, name, properties and distance_m"),
                   **errors(400, 404)},
    )
    def get(self, request, incident_id):
        """Return the features of a layer nearest to the incident, by distance in meters."""
        query = self.parse(s.NearbyQuery, request.query_params)
        return Response(selectors.incident_nearby_features(user=request.user, incident_id=incident_id, **query))
