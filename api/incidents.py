"""Incidents over REST: report, list as GeoJSON, one with its timeline, assign, close, nearby.

Answers about an incident carry `seq`, the event log's head: read after a write committed, or
before a read's rows (docs/PROTOCOL.md, "seq on REST answers").
"""

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
from dispatch.representations import call_data, incident_data, ticket_data
from dispatch.selectors.stream import head_seq

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
        body = {**selectors.incident_report_result(incident=report.incident, tickets=report.tickets), "seq": head_seq()}
        return Response(body, status=status.HTTP_201_CREATED if report.created else status.HTTP_200_OK)


class IncidentView(ApiView):
    read_roles = EVERYONE
    write_roles = DISPATCHERS

    @extend_schema(operation_id="incidents_detail", responses={200: shapes.IncidentDetailOut, **errors(404)})
    def get(self, request, incident_id):
        """Return one incident with its tickets, feedback and event timeline."""
        seq = head_seq()  # before the rows: they are at least this new
        return Response({**selectors.incident_detail(user=request.user, incident_id=incident_id), "seq": seq})

    @extend_schema(
        operation_id="incidents_edit", request=s.IncidentEditIn,
        responses={200: shapes.IncidentCloseOut, **errors(*POST, 404, 409)},
    )
    def patch(self, request, incident_id):
        """Correct an open incident's title, address, description or caller; only the fields sent change."""
        data = self.parse(s.IncidentEditIn, request.data)
        incident = services.incident_edit(actor=request.user, incident_id=incident_id, fields=data)
        return Response({"incident": incident_data(incident), "seq": head_seq()})


class IncidentSeverityView(ApiView):
    write_roles = DISPATCHERS

    @extend_schema(
        operation_id="incidents_severity", request=s.SeverityIn,
        responses={200: shapes.IncidentSeverityOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, incident_id):
        """Raise or lower an open incident's severity; raising issues the tickets the new plan asks for."""
        data = self.parse(s.SeverityIn, request.data)
        change = services.incident_set_severity(actor=request.user, incident_id=incident_id, **data)
        return Response({
            "incident": incident_data(change.incident), "tickets": [ticket_data(t) for t in change.tickets],
            "note": change.note, "seq": head_seq(),
        })


class IncidentCallsView(ApiView):
    read_roles = EVERYONE
    write_roles = DISPATCHERS

    @extend_schema(operation_id="incidents_calls_list", responses={200: shapes.CallsOut, **errors(404)})
    def get(self, request, incident_id):
        """List an incident's calls, oldest first (those moved from its duplicates included)."""
        return Response({"calls": selectors.incident_calls(user=request.user, incident_id=incident_id)})

    @extend_schema(
        operation_id="incidents_calls_create", request=s.CallIn,
        responses={201: shapes.CallCreatedOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, incident_id):
        """Attach another call to an open incident instead of opening a new one."""
        data = self.parse(s.CallIn, request.data)
        lon, lat = data.pop("location") or (None, None)
        logged = services.call_attach(actor=request.user, incident_id=incident_id, lon=lon, lat=lat, **data)
        body = {"incident": incident_data(logged.incident), "call": call_data(logged.call), "seq": head_seq()}
        return Response(body, status=status.HTTP_201_CREATED)


class IncidentDuplicatesView(ApiView):
    @extend_schema(
        operation_id="incidents_duplicates", parameters=[s.DuplicatesQuery],
        responses={200: shapes.DuplicatesOut, **errors(400)},
    )
    def get(self, request):
        """List the open incidents of any category near a point and recent: what a new call may be about."""
        query = self.parse(s.DuplicatesQuery, request.query_params)
        return Response({"incidents": selectors.incident_duplicates(**query)})


class IncidentMergeView(ApiView):
    write_roles = DISPATCHERS

    @extend_schema(
        operation_id="incidents_merge", request=s.MergeIn,
        responses={200: shapes.MergeOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, incident_id):
        """Merge a duplicate into its original: its calls move there, its open tickets are cancelled, it closes."""
        data = self.parse(s.MergeIn, request.data)
        merge = services.incident_merge(
            actor=request.user, incident_id=incident_id, into_id=data["into"], reason=data["reason"]
        )
        return Response({"incident": incident_data(merge.incident), "into": incident_data(merge.into), "seq": head_seq()})


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
        body = {"ticket": ticket_data(ticket), "incident": incident_data(incident), "seq": head_seq()}
        return Response(body, status=status.HTTP_201_CREATED)


class IncidentCloseView(ApiView):
    write_roles = DISPATCHERS

    @extend_schema(
        operation_id="incidents_close", request=s.CloseIn,
        responses={200: shapes.IncidentCloseOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, incident_id):
        """Close an incident with its outcome once every one of its tickets is closed, rejected or cancelled.

        Refused (409) while a ticket is open: `errors.tickets` names each one, its sub-center and status.
        """
        data = self.parse(s.CloseIn, request.data)
        incident = services.incident_close(actor=request.user, incident_id=incident_id, **data)
        incident = selectors.incident_get(user=request.user, incident_id=incident.id)
        return Response({"incident": incident_data(incident), "seq": head_seq()})


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
