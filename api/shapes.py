"""The shapes of the API's answers, for the schema only.

The bodies themselves are made by dispatch.representations (the same shapes as the event
stream's); tests/test_schema.py checks that these documented fields match them.
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import PointField
from dispatch.models import IncidentStatus, NoticeStatus, TicketStatus

SEQ_HELP = "the event log's head after the write committed: events up to it are already in this answer"
SEQ_READ_HELP = "the event log's head read before the rows: events up to it are already in this answer"


class ErrorsOut(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="field → messages; `detail` when no field is at fault, `body` when the body is unreadable",
    )
    status = serializers.CharField(required=False, help_text="409 only: the current status")


class SubCenterRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField(help_text="empty when none is recorded")
    kind = serializers.CharField()
    duty_phone = serializers.CharField(help_text="the desk's duty phone (值班电话), empty when none is recorded")


class TicketOut(serializers.Serializer):
    """dispatch.representations.ticket_data."""

    id = serializers.IntegerField()
    incident_id = serializers.IntegerField()
    subcenter = SubCenterRefOut()
    status = serializers.ChoiceField(choices=TicketStatus.choices)
    routing = serializers.JSONField()
    checklist = serializers.ListField(child=serializers.CharField())
    checklist_done = serializers.ListField(
        child=serializers.IntegerField(), help_text="indexes into checklist of the items ticked, ascending"
    )
    deadlines = serializers.DictField(
        child=serializers.IntegerField(), help_text="stage → seconds (deliver_s, accept_s, confirm_s, feedback_s)"
    )
    reason = serializers.CharField()
    issued_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    delivered_by = serializers.CharField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    accepted_by = serializers.CharField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    confirmed_by = serializers.CharField(allow_null=True)
    first_feedback_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    escalation_level = serializers.IntegerField()


class IncidentOut(serializers.Serializer):
    """dispatch.representations.incident_data."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    category = serializers.CharField()
    category_name = serializers.CharField()
    category_name_en = serializers.CharField()
    severity = serializers.IntegerField()
    status = serializers.ChoiceField(choices=IncidentStatus.choices)
    location = PointField()
    address = serializers.CharField()
    description = serializers.CharField()
    reporter_name = serializers.CharField()
    reporter_phone = serializers.CharField()
    occurred_at = serializers.DateTimeField(allow_null=True)
    reported_at = serializers.DateTimeField()
    source = serializers.CharField()
    routing = serializers.ListField(child=serializers.DictField())
    unassigned_kinds = serializers.ListField(child=serializers.CharField())
    place = serializers.DictField(
        help_text="what was at the location when reported: road, place, poi, county, township as GET /reverse "
                  "answers (empty for incidents reported before it was kept)",
    )
    closed_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(help_text="how it ended, written when it was closed")
    duplicate_of = serializers.IntegerField(allow_null=True, help_text="the original, once merged into it")
    call_count = serializers.IntegerField(help_text="calls about it, the first report included")


class FeedbackOut(serializers.Serializer):
    """dispatch.representations.feedback_data."""

    id = serializers.IntegerField()
    ticket_id = serializers.IntegerField()
    text = serializers.CharField()
    final = serializers.BooleanField()
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class EventOut(serializers.Serializer):
    """dispatch.representations.event_data."""

    seq = serializers.IntegerField()
    name = serializers.CharField()
    incident_id = serializers.IntegerField(allow_null=True)
    ticket_id = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField()
    payload = serializers.JSONField()


class PlanOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True, help_text="blank: the English screens show `name`")
    severity_min = serializers.IntegerField()
    severity_max = serializers.IntegerField()
    kinds = serializers.ListField(child=serializers.CharField())
    deadlines = serializers.DictField(child=serializers.IntegerField())
    checklist = serializers.ListField(child=serializers.CharField())


class RoutingOut(serializers.Serializer):
    plan = PlanOut(allow_null=True)
    routes = serializers.ListField(child=serializers.DictField(), help_text="the router's answer per kind")
    unassigned_kinds = serializers.ListField(child=serializers.CharField())
    triage = serializers.BooleanField(help_text="some kind found no owner: the console must assign by hand")


class IncidentReportOut(serializers.Serializer):
    incident = IncidentOut()
    tickets = TicketOut(many=True)
    routing = RoutingOut()
    seq = serializers.IntegerField(help_text=SEQ_HELP)


class IncidentDetailOut(serializers.Serializer):
    incident = IncidentOut()
    tickets = TicketOut(many=True)
    feedback = FeedbackOut(many=True)
    events = EventOut(many=True)
    seq = serializers.IntegerField(help_text=SEQ_READ_HELP)


class TimelineSubCenterOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()


class TimelineEntryOut(serializers.Serializer):
    """dispatch.selectors.incidents.timeline_entry: one event of the log, as a line of the timeline."""

    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    name = serializers.CharField(help_text="the event's name, e.g. ticket.accepted")
    actor = serializers.CharField(allow_null=True, help_text="who did it; null for the system (the deadline worker)")
    ticket_id = serializers.IntegerField(allow_null=True)
    subcenter = TimelineSubCenterOut(allow_null=True, help_text="the ticket's sub-center; null for incident events")
    summary = serializers.DictField(
        help_text="what matters of the event, only the keys it has: reason, text, final, status, item, item_text, "
        "done, changes, level"
    )


class TimelineOut(serializers.Serializer):
    incident = IncidentOut()
    entries = TimelineEntryOut(many=True)


class IncidentCloseOut(serializers.Serializer):
    incident = IncidentOut()
    seq = serializers.IntegerField(help_text=SEQ_HELP)


class IncidentSeverityOut(serializers.Serializer):
    incident = IncidentOut()
    tickets = TicketOut(many=True, help_text="the tickets this change issued (none when lowered)")
    note = serializers.CharField(help_text="when lowered: no ticket was cancelled, cancel by hand; else empty")
    seq = serializers.IntegerField(help_text=SEQ_HELP)


class CallOut(serializers.Serializer):
    """dispatch.representations.call_data."""

    id = serializers.IntegerField()
    incident_id = serializers.IntegerField()
    reporter_name = serializers.CharField()
    reporter_phone = serializers.CharField()
    note = serializers.CharField()
    location = PointField(allow_null=True)
    received_at = serializers.DateTimeField()
    received_by = serializers.CharField(allow_null=True)
    moved_from = serializers.IntegerField(allow_null=True, help_text="the duplicate it was logged under, once merged")


class CallCreatedOut(serializers.Serializer):
    incident = IncidentOut()
    call = CallOut()
    seq = serializers.IntegerField(help_text=SEQ_HELP)


class CallsOut(serializers.Serializer):
    calls = CallOut(many=True)




class MergeOut(serializers.Serializer):
    incident = IncidentOut(help_text="the duplicate, now closed")
    into = IncidentOut(help_text="the original, its calls counted")
    seq = serializers.IntegerField(help_text=SEQ_HELP)


class TicketIssuedOut(serializers.Serializer):
    ticket = TicketOut()
    incident = IncidentOut()
    seq = serializers.IntegerField(help_text=SEQ_HELP)


class TicketChangeOut(serializers.Serializer):
    ticket = TicketOut()
    changed = serializers.BooleanField(help_text="false when the action had already been taken")
    seq = serializers.IntegerField(help_text="the event log's head after the write: the ticket is as of this seq")


class TicketOneOut(serializers.Serializer):
    ticket = TicketOut()


class FeedbackCreatedOut(serializers.Serializer):
    feedback = FeedbackOut()
    ticket = TicketOut()
    seq = serializers.IntegerField(help_text="the event log's head after the write: the ticket is as of this seq")


class TicketListOut(serializers.Serializer):
    tickets = TicketOut(many=True)
    limit = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="more tickets match than `limit`")


class NoticeOut(serializers.Serializer):
    """dispatch.representations.notice_data."""

    id = serializers.IntegerField()
    ticket_id = serializers.IntegerField()
    incident_id = serializers.IntegerField()
    stage = serializers.CharField(help_text="the deadline missed: delivery, acceptance, confirmation, first_feedback")
    level = serializers.IntegerField(help_text="3 the duty phone, 4 the leaders")
    to = serializers.CharField(help_text='the number, or "leaders" when no leader phone is configured')
    status = serializers.ChoiceField(choices=NoticeStatus.choices)
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(help_text="the last failed try's error or the gateway's answer")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)


class NoticeListOut(serializers.Serializer):
    notices = NoticeOut(many=True)
    limit = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="more notices match than `limit`")


class CategoryOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    national_class = serializers.CharField()
    national_class_name = serializers.CharField()
    plans = PlanOut(many=True)


class CategoriesOut(serializers.Serializer):
    categories = CategoryOut(many=True)


class TerminalHealthOut(serializers.Serializer):
    online = serializers.IntegerField(help_text="live terminals (heartbeat within TERMINAL_STALE_S)")
    audio_armed = serializers.BooleanField(help_text="at least one live terminal can sound the alert")
    last_heartbeat = serializers.DateTimeField(allow_null=True)


class SubCenterOut(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    kind = serializers.CharField()
    kind_name = serializers.CharField()
    kind_name_en = serializers.CharField()
    duty_phone = serializers.CharField()
    active = serializers.BooleanField()
    priority = serializers.IntegerField()
    jurisdictions = serializers.ListField(child=serializers.CharField(), help_text="covered jurisdiction codes")
    coverage_area_m2 = serializers.FloatField()
    terminal = TerminalHealthOut()
    distance_m = serializers.FloatField(
        required=False, allow_null=True,
        help_text="only with near: meters from the point to its nearest jurisdiction (0 inside); null without one",
    )


class SubCentersOut(serializers.Serializer):
    subcenters = SubCenterOut(many=True)


class KindOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()


class RoutePreviewOut(serializers.Serializer):
    location = PointField()
    plan = PlanOut(allow_null=True)
    kinds = serializers.ListField(child=serializers.CharField())
    routes = serializers.ListField(
        child=serializers.DictField(), help_text="rule, sub-center (with subcenter_name_en), jurisdiction per kind; "
        "with an owner, terminal: {online, audio_armed} of its live terminals"
    )
    unassigned_kinds = serializers.ListField(child=serializers.CharField())
    missing_kinds = KindOut(many=True, help_text="the kinds nobody owns here, named")
    triage = serializers.BooleanField()


class TokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="send as `Authorization: Token <token>`; shown this once, never stored")
    expires_at = serializers.DateTimeField(help_text="after this the token is refused with 401 (TOKEN_TTL)")


# ---- GeoJSON and figures ---------------------------------------------------------------

GEOMETRY = {
    "type": "object", "required": ["type", "coordinates"],
    "description": "a GeoJSON geometry (RFC 7946), WGS 84",
    "properties": {
        "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                                            "MultiPolygon"]},
        "coordinates": {"type": "array"},
    },
}


@extend_schema_field(GEOMETRY)
class GeometryField(serializers.JSONField):
    """A GeoJSON geometry, as PostGIS writes it."""


class InlineChoiceField(serializers.ChoiceField):
    """A choice whose enum is written where it is used, so it joins the enum of its twin by content."""


class InlineChoiceSchema(OpenApiSerializerFieldExtension):
    target_class = InlineChoiceField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": list(self.target.choices)}


class GeoJsonType(serializers.CharField):
    """A GeoJSON object's `type`: one fixed name."""

    def __init__(self, name, **kwargs):
        self.name = name
        super().__init__(**kwargs)


class GeoJsonTypeSchema(OpenApiSerializerFieldExtension):
    """Write the fixed name as a pattern: an enum of one would be named, and the names collide."""

    target_class = GeoJsonType

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "pattern": f"^{self.target.name}$"}


class FeatureOut(serializers.Serializer):
    type = GeoJsonType("Feature")
    id = serializers.JSONField(help_text="the incident id, jurisdiction code or feature key")
    geometry = GeometryField()
    properties = serializers.DictField()


class FeatureCollectionOut(serializers.Serializer):
    type = GeoJsonType("FeatureCollection")
    features = FeatureOut(many=True)


class IncidentPropertiesOut(IncidentOut):
    """An incident's fields, its location being the feature's geometry."""

    location = None
    status = InlineChoiceField(choices=IncidentStatus.choices)


class IncidentFeatureOut(FeatureOut):
    id = serializers.IntegerField()
    properties = IncidentPropertiesOut()


class IncidentCollectionOut(FeatureCollectionOut):
    features = IncidentFeatureOut(many=True)
    limit = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="more incidents match than `limit`: there is a next page")
    next = serializers.CharField(allow_null=True, help_text="the cursor of the next page (pass it as `before`), "
                                 "null on the last page")
    count = serializers.IntegerField(required=False, help_text="every match, all pages; only with count=true")


class JurisdictionPropertiesOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()
    parent = serializers.CharField(allow_null=True)


class JurisdictionFeatureOut(FeatureOut):
    id = serializers.CharField()
    properties = JurisdictionPropertiesOut()


class JurisdictionCollectionOut(FeatureCollectionOut):
    features = JurisdictionFeatureOut(many=True)


class LayerFeaturePropertiesOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    properties = serializers.DictField(help_text="the source's own attributes")


class LayerFeatureOut(FeatureOut):
    id = serializers.CharField()
    properties = LayerFeaturePropertiesOut()


class LayerCollectionOut(FeatureCollectionOut):
    features = LayerFeatureOut(many=True)


class NearbyPropertiesOut(LayerFeaturePropertiesOut):
    distance_m = serializers.FloatField(help_text="on the spheroid, from the incident")


class NearbyFeatureOut(LayerFeatureOut):
    properties = NearbyPropertiesOut()


class NearbyOut(FeatureCollectionOut):
    incident_id = serializers.IntegerField()
    layer = serializers.CharField()
    radius_m = serializers.FloatField()
    features = NearbyFeatureOut(many=True, help_text="nearest first")


class LayerOut(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    attribution = serializers.CharField()
    feature_count = serializers.IntegerField()


class LayersOut(serializers.Serializer):
    layers = LayerOut(many=True)


class DuplicateOut(IncidentOut):
    """An incident's fields and its distance from the point asked about."""

    distance_m = serializers.FloatField(help_text="on the spheroid, from the point asked about")


class DuplicatesOut(serializers.Serializer):
    incidents = DuplicateOut(many=True, help_text="nearest first")


# ---- place search, reverse lookup, base map sources (#14) --------------------------------------


class NamedNearOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text="road class, place class (town, village…) or POI kind")
    distance_m = serializers.FloatField()


class JurisdictionRefOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class ReverseOut(serializers.Serializer):
    """geo.selectors.reverse_lookup: each part null when nothing qualifies."""

    road = NamedNearOut(allow_null=True, required=False, help_text="nearest named road within REVERSE_RADIUS_M")
    place = NamedNearOut(allow_null=True, required=False, help_text="nearest named place (town, village…)")
    poi = NamedNearOut(allow_null=True, required=False, help_text="nearest named point of interest")
    county = JurisdictionRefOut(allow_null=True, required=False, help_text="county-level jurisdiction covering it")
    township = JurisdictionRefOut(allow_null=True, required=False, help_text="township (街道/乡镇) covering it")


class PlaceOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=[
        "place", "street", "poi", "water", "jurisdiction", "subcenter", "feature", "incident_address", "coordinates",
    ])
    detail = serializers.CharField(help_text="class (town, primary, county…), layer name, or how coordinates were read")
    source = serializers.CharField(help_text="basemap, jurisdictions, subcenters, layer:<name>, incidents, input, gcj02")
    key = serializers.CharField(help_text="id within the source: OSM id, code, key, incident id")
    location = PointField()
    bbox = serializers.ListField(child=serializers.FloatField(), allow_null=True, min_length=4, max_length=4)
    distance_m = serializers.FloatField(allow_null=True, help_text="from `near`, on the spheroid")
    address = ReverseOut(required=False, help_text="for coordinates: what is there")


class PlacesOut(serializers.Serializer):
    query = serializers.CharField()
    coordinates = serializers.BooleanField(help_text="the query was read as coordinates")
    ambiguous = serializers.BooleanField(help_text="two readings of the numbers: ask the caller which")
    question = serializers.CharField(allow_blank=True)
    results = PlaceOut(many=True)


class MapSourceOut(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["xyz", "wmts"])
    url = serializers.CharField(help_text="as configured, {z}/{x}/{y} for the map library")
    tiles = serializers.ListField(child=serializers.CharField(), help_text="ready templates: subdomains, key, WMTS query")
    subdomains = serializers.ListField(child=serializers.CharField())
    attribution = serializers.CharField(allow_blank=True)
    datum = serializers.ChoiceField(choices=["wgs84", "cgcs2000", "gcj02"],
                                    help_text="gcj02: shift our WGS 84 features when drawing over it")
    max_zoom = serializers.IntegerField()


class BasemapOut(serializers.Serializer):
    tiles = serializers.CharField(help_text="vector tile URL template (source-layers roads, water, landuse, buildings, places, pois)")
    attribution = serializers.CharField()
    source = serializers.CharField()
    imported_at = serializers.DateTimeField()
    bounds = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())


class MapSourcesOut(serializers.Serializer):
    sources = MapSourceOut(many=True)
    basemap = BasemapOut(allow_null=True, help_text="our own OSM base map; null until import_basemap ran")
    ours = serializers.CharField(help_text="vector tile URL template of our layers (jurisdictions, jurisdiction_labels, features)")
