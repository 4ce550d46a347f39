"""What the API accepts: the shape of each body and query, checked before a service is called.

Domain rules (a category exists, a transition is allowed) stay in the services; these
serializers only refuse what is malformed, naming the field. Response bodies are made by
dispatch.representations and documented in api.shapes.
"""

import math
import re
from datetime import timedelta

from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from dispatch.models import IncidentStatus, NoticeStatus, TicketStatus

ERR_UNKNOWN_FIELD = gettext_lazy("unknown field")
ERR_POINT_OBJECT = gettext_lazy('give a GeoJSON Point: {"type": "Point", "coordinates": [lon, lat]}')
ERR_POINT_TYPE = gettext_lazy("the geometry must be a Point, not {type}")
ERR_POINT_COORDINATES = gettext_lazy("coordinates must be two finite numbers: [lon, lat]")
ERR_POINT_RANGE = gettext_lazy("coordinates must be lon -180..180 and lat -90..90")
ERR_FUTURE = gettext_lazy("occurred_at is in the future")
ERR_TIME_ORDER = gettext_lazy("reported_after must be before reported_before")
ERR_UNKNOWN_CHOICE = gettext_lazy("unknown value(s): {values}; one of: {choices}")
ERR_ROUTE_WHAT = gettext_lazy("give category and severity, or kinds")
ERR_ROUTE_BOTH = gettext_lazy("give category and severity, or kinds, not both")
ERR_SEVERITY_WITH_CATEGORY = gettext_lazy("severity is required with category")

CLOCK_SKEW = timedelta(minutes=5)  # a reporter's clock may run a little ahead
DEFAULT_LIMIT, MAX_LIMIT = 500, 5000
NEARBY_RADIUS_M, NEARBY_MAX_RADIUS_M = 5000, 100_000
NEARBY_LIMIT, NEARBY_MAX_LIMIT = 50, 500
REASON_MAX = 2000
OUTCOME_MAX = 2000
MAX_ID = 2**63 - 1  # a PostgreSQL bigint
DUPLICATE_MAX_RADIUS_M, DUPLICATE_MAX_HOURS = 100_000, 720

# Patterns the schema states and the server applies, so the two cannot disagree. `\s` is Unicode
# whitespace; \x1c-\x1f are whitespace to Python's str.strip() too, but not to every regex engine.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f][^\x00]*$"
ERR_NUL_IN_TEXT = gettext_lazy("must not contain a NUL character")
ERR_WHOLE_NUMBERS = gettext_lazy("give whole numbers, separated by commas")


class StrictSerializer(serializers.Serializer):
    """A body serializer that refuses fields it does not know (a typo must not pass silently)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [ERR_UNKNOWN_FIELD] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Say in the schema that a body with an unknown field is refused (`additionalProperties: false`)."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if not schema.get("properties"):
            return schema  # no fields: the schema documents no body at all
        return {**schema, "additionalProperties": False}


@extend_schema_field(
    {
        "type": "object",
        "description": "A GeoJSON Point (RFC 7946): WGS 84 longitude, latitude.",
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3},
        },
        "required": ["type", "coordinates"],
        "example": {"type": "Point", "coordinates": [99.913, 24.595]},
    }
)
class PointField(serializers.Field):
    """A GeoJSON Point, read as a (lon, lat) pair; an altitude is allowed and ignored."""

    def to_internal_value(self, data):
        if not isinstance(data, dict) or "type" not in data:
            raise serializers.ValidationError(ERR_POINT_OBJECT)
        if data["type"] != "Point":
            raise serializers.ValidationError(ERR_POINT_TYPE.format(type=data["type"]))
        coordinates = data.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) not in (2, 3) or not all(
            _finite_number(c) for c in coordinates
        ):
            raise serializers.ValidationError(ERR_POINT_COORDINATES)
        lon, lat = float(coordinates[0]), float(coordinates[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise serializers.ValidationError(ERR_POINT_RANGE)
        return lon, lat

    def to_representation(self, value):
        return {"type": "Point", "coordinates": list(value)}


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Text(serializers.CharField):
    """A string in a JSON body: a number or a boolean is refused, not turned into text.

    Its length is that of the string as sent (before trimming), and its pattern says what a
    blank is, so the schema's maxLength and pattern are exactly what is refused.
    """

    default_error_messages = {"invalid": gettext_lazy("give a string")}

    def __init__(self, **kwargs):
        if not kwargs.get("allow_blank", False) and not kwargs.get("trim_whitespace", True):
            kwargs.setdefault("min_length", 1)  # nothing is trimmed, so the empty string is the only blank
        super().__init__(**kwargs)
        pattern = NOT_BLANK if not self.allow_blank and self.trim_whitespace else NO_NUL
        self.validators.append(RegexValidator(pattern, ERR_NUL_IN_TEXT))

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class FiniteFloat(serializers.FloatField):
    """A number that is neither NaN nor infinite (`nan` passes min/max checks unnoticed)."""

    default_error_messages = {"invalid": gettext_lazy("give a finite number")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


def comma_list_pattern(choices):
    """Return the pattern of a comma-separated list of these values, blanks and spaces allowed."""
    item = "|".join(re.escape(str(choice)) for choice in choices)
    return rf"^[ \t]*(?:(?:{item})[ \t]*)?(?:,[ \t]*(?:(?:{item})[ \t]*)?)*$"


class CommaListField(serializers.Field):
    """A query parameter holding comma-separated values, each checked against `choices`."""

    def __init__(self, *, choices=None, child=str, **kwargs):
        self.choices, self.child = choices, child
        self.pattern = comma_list_pattern(choices) if choices is not None else None
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        values = [part.strip() for part in str(data).split(",") if part.strip()]
        if self.child is int:
            try:
                values = [int(v) for v in values]
            except ValueError:
                raise serializers.ValidationError(ERR_WHOLE_NUMBERS) from None
        if self.choices is not None:
            unknown = [str(v) for v in values if v not in self.choices]
            if unknown or not re.fullmatch(self.pattern, str(data)):  # e.g. a digit of another script
                choices = ", ".join(map(str, self.choices))
                raise serializers.ValidationError(
                    ERR_UNKNOWN_CHOICE.format(values=", ".join(unknown) or data, choices=choices)
                )
        return values

    def to_representation(self, value):
        return ",".join(map(str, value))


class CommaListSchema(OpenApiSerializerFieldExtension):
    """State a comma list's pattern, so the schema refuses what the field refuses."""

    target_class = CommaListField

    def map_serializer_field(self, auto_schema, direction):
        pattern = self.target.pattern
        return {"type": "string", **({"pattern": pattern} if pattern else {})}


# ---- bodies --------------------------------------------------------------------------


class IncidentReportIn(StrictSerializer):
    """A new incident, as a dispatcher or a machine client reports it."""

    category = serializers.SlugField(max_length=48, help_text="A category code from GET /categories.")
    severity = serializers.IntegerField(min_value=1, max_value=4, help_text="1 = I 特别重大 … 4 = IV 一般.")
    location = PointField()
    title = Text(max_length=200)
    description = Text(required=False, allow_blank=True, default="")
    address = Text(required=False, allow_blank=True, default="", max_length=300)
    reporter_name = Text(required=False, allow_blank=True, default="", max_length=100)
    reporter_phone = Text(required=False, allow_blank=True, default="", max_length=32)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_occurred_at(self, value):
        if value is not None and value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError(ERR_FUTURE)
        return value


class AssignIn(StrictSerializer):
    subcenter = Text(max_length=64, help_text="A sub-center code, e.g. 530921-water.")
    note = Text(required=False, allow_blank=True, default="", max_length=REASON_MAX)


class CloseIn(StrictSerializer):
    outcome = Text(max_length=OUTCOME_MAX, help_text="How it ended (结案情况), 1 to 2000 characters.")
    reason = Text(required=False, allow_blank=True, default="", max_length=REASON_MAX)


class IncidentEditIn(StrictSerializer):
    """The fields of an incident the command center may correct; any of them, only those sent change."""

    title = Text(required=False, max_length=200)
    address = Text(required=False, allow_blank=True, max_length=300)
    description = Text(required=False, allow_blank=True, max_length=20_000)
    reporter_name = Text(required=False, allow_blank=True, max_length=100)
    reporter_phone = Text(required=False, allow_blank=True, max_length=32)


class SeverityIn(StrictSerializer):
    severity = serializers.IntegerField(min_value=1, max_value=4, help_text="1 = I 特别重大 … 4 = IV 一般.")
    reason = Text(max_length=REASON_MAX)


class CallIn(StrictSerializer):
    """Another call about an incident."""

    reporter_name = Text(required=False, allow_blank=True, default="", max_length=100)
    reporter_phone = Text(required=False, allow_blank=True, default="", max_length=32)
    note = Text(required=False, allow_blank=True, default="", max_length=20_000)
    location = PointField(required=False, allow_null=True, default=None, help_text="where the caller places it")


class MergeIn(StrictSerializer):
    into = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="the original incident's id")
    reason = Text(required=False, allow_blank=True, default="", max_length=REASON_MAX)


class ReasonIn(StrictSerializer):
    reason = Text(max_length=REASON_MAX)


class EmptyIn(StrictSerializer):
    """No fields: the action is the whole request."""


class FeedbackIn(StrictSerializer):
    text = Text(max_length=20_000)
    final = serializers.BooleanField(required=False, default=False, help_text="A final report resolves the ticket.")


class CheckIn(StrictSerializer):
    item = serializers.IntegerField(min_value=0, max_value=999, help_text="the index of the item in the ticket's checklist")
    done = serializers.BooleanField(help_text="true ticks the item, false unticks it")


class TokenIn(StrictSerializer):
    username = Text(max_length=150)
    password = Text(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = Text(
        max_length=64, required=False,
        help_text="the current code of the user's authenticator app (TOTP), or one recovery code (used up); "
        "required for a role in REQUIRE_2FA_ROLES (admin by default)",
    )


# ---- queries -------------------------------------------------------------------------


BBOX_FORMAT = gettext_lazy("Give four numbers: minlon,minlat,maxlon,maxlat.")
BBOX_RANGE = gettext_lazy("Longitudes must lie within [-180, 180] and latitudes within [-90, 90].")
BBOX_ORDER = gettext_lazy("The minimum must not exceed the maximum (minlon <= maxlon, minlat <= maxlat).")
SIMPLIFY_WITH_ZOOM = gettext_lazy("Give simplify or zoom, not both.")
BBOX_HELP = (
    "minlon,minlat,maxlon,maxlat in WGS 84: longitudes within ±180, latitudes within ±90, "
    "each minimum at most its maximum (else 400)"
)


NUMBER = r"[ \t]*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*"
BBOX_PATTERN = rf"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$"


@extend_schema_field({"type": "string", "pattern": BBOX_PATTERN})
class BboxField(serializers.Field):
    """A WGS 84 bounding box written as `minlon,minlat,maxlon,maxlat`."""

    default_error_messages = {"format": BBOX_FORMAT, "range": BBOX_RANGE, "order": BBOX_ORDER}

    def get_value(self, dictionary):
        """Return the raw value: an empty `bbox=` is refused, not taken for no bbox."""
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data):
        """Return the box as a tuple of four floats, or fail naming what is wrong."""
        if not re.fullmatch(BBOX_PATTERN, str(data)):  # float() also takes "1_0", "nan" and other scripts' digits
            self.fail("format")
        box = tuple(float(part) for part in str(data).split(","))
        if not all(math.isfinite(v) for v in box):
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

    bbox = BboxField(required=False, help_text=BBOX_HELP)


class JurisdictionQuery(BboxQuery):
    """Query parameters of the jurisdictions map."""

    simplify = FiniteFloat(
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


class FiguresQuery(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="A local calendar day; without it, the last 24 hours.")


class IncidentListQuery(serializers.Serializer):
    status = CommaListField(required=False, choices=IncidentStatus.values, help_text="e.g. triage,dispatched")
    category = CommaListField(required=False, help_text="category codes, comma-separated")
    severity = CommaListField(required=False, child=int, choices=[1, 2, 3, 4], help_text="e.g. 1,2")
    bbox = BboxField(required=False, help_text=BBOX_HELP)
    reported_after = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive")
    reported_before = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive")
    q = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=200,
        help_text="words that must each appear (any case) in the title, address, description, reporter's name or phone",
    )
    county = serializers.CharField(
        required=False, max_length=64, help_text="a county's jurisdiction code: incidents whose point lies in it"
    )
    before = serializers.CharField(
        required=False, max_length=200, help_text="a page's `next` cursor: the page after it (opaque)"
    )
    count = serializers.BooleanField(required=False, default=False, help_text="true adds `count`: every match")
    limit = serializers.IntegerField(required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)

    def validate(self, attrs):
        after, before = attrs.get("reported_after"), attrs.get("reported_before")
        if after and before and after >= before:
            raise serializers.ValidationError({"reported_before": [ERR_TIME_ORDER]})
        return attrs


class TicketListQuery(serializers.Serializer):
    status = CommaListField(required=False, choices=TicketStatus.values, help_text="e.g. issued,delivered")
    incident = serializers.IntegerField(required=False, min_value=1)
    subcenter = serializers.CharField(required=False, max_length=64, help_text="a sub-center code")
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    limit = serializers.IntegerField(required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)


class NoticeListQuery(serializers.Serializer):
    status = CommaListField(required=False, choices=NoticeStatus.values, help_text="e.g. failed")
    ticket = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)


class NearbyQuery(serializers.Serializer):
    layer = serializers.SlugField(max_length=64, help_text="a layer name from GET /layers")
    radius_m = FiniteFloat(
        required=False, default=NEARBY_RADIUS_M, min_value=1, max_value=NEARBY_MAX_RADIUS_M
    )
    limit = serializers.IntegerField(required=False, default=NEARBY_LIMIT, min_value=1, max_value=NEARBY_MAX_LIMIT)


class DuplicatesQuery(serializers.Serializer):
    lon = FiniteFloat(min_value=-180, max_value=180)
    lat = FiniteFloat(min_value=-90, max_value=90)
    radius_m = FiniteFloat(
        required=False, min_value=1, max_value=DUPLICATE_MAX_RADIUS_M, help_text="default DUPLICATE_RADIUS_M (500)"
    )
    hours = FiniteFloat(
        required=False, min_value=0.1, max_value=DUPLICATE_MAX_HOURS, help_text="default DUPLICATE_WINDOW_H (2)"
    )


NEAR_PATTERN = rf"^{NUMBER},{NUMBER}$"
NEAR_FORMAT = gettext_lazy("Give two numbers: lon,lat.")


@extend_schema_field({"type": "string", "pattern": NEAR_PATTERN})
class NearField(serializers.Field):
    """A WGS 84 point written as `lon,lat`."""

    default_error_messages = {"format": NEAR_FORMAT, "range": BBOX_RANGE}

    def to_internal_value(self, data):
        if not re.fullmatch(NEAR_PATTERN, str(data)):
            self.fail("format")
        lon, lat = (float(part) for part in str(data).split(","))
        if not (math.isfinite(lon) and math.isfinite(lat)):
            self.fail("format")
        if abs(lon) > 180 or abs(lat) > 90:
            self.fail("range")
        return lon, lat

    def to_representation(self, value):
        return ",".join(str(v) for v in value)


class SubCentersQuery(serializers.Serializer):
    kind = serializers.SlugField(required=False, max_length=32, help_text="a sub-center kind, e.g. water")
    near = NearField(required=False, help_text="lon,lat in WGS 84: nearest first, each with distance_m")


class RouteQuery(serializers.Serializer):
    lon = FiniteFloat(min_value=-180, max_value=180)
    lat = FiniteFloat(min_value=-90, max_value=90)
    category = serializers.SlugField(required=False, max_length=48)
    severity = serializers.IntegerField(required=False, min_value=1, max_value=4)
    kinds = CommaListField(required=False, help_text="sub-center kinds, e.g. water,fire")

    def validate(self, attrs):
        if "kinds" in attrs and ("category" in attrs or "severity" in attrs):
            raise serializers.ValidationError({"kinds": [ERR_ROUTE_BOTH]})
        if "category" in attrs and "severity" not in attrs:
            raise serializers.ValidationError({"severity": [ERR_SEVERITY_WITH_CATEGORY]})
        if "category" not in attrs and not attrs.get("kinds"):
            raise serializers.ValidationError({"category": [ERR_ROUTE_WHAT]})
        return attrs


ERR_NEAR = "give near as lon,lat (two numbers, longitude first)"


class PlacesQuery(serializers.Serializer):
    """Query parameters of the place search."""

    q = serializers.CharField(max_length=200, help_text="a name (characters, pinyin, initials), coordinates, or a share link")
    near = serializers.CharField(required=False, max_length=60, help_text="lon,lat: rank nearer names first")
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=50)

    def validate_near(self, value):
        parts = value.split(",")
        try:
            lon, lat = (float(p) for p in parts)
        except ValueError:
            raise serializers.ValidationError(ERR_NEAR) from None
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise serializers.ValidationError(ERR_NEAR)
        return (lon, lat)


class ReverseQuery(serializers.Serializer):
    """A point in WGS 84."""

    lon = FiniteFloat(min_value=-180, max_value=180)
    lat = FiniteFloat(min_value=-90, max_value=90)
