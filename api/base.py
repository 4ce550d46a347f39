"""What every view of the API shares: the role gate, the size-limited JSON body, input parsing."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse
from rest_framework.views import APIView

from api.parsers import LimitedJSONParser
from api.permissions import COMMAND_CENTER, RolePermission
from api.shapes import ErrorsOut
from dispatch.errors import Invalid

ERR_NUL = gettext_lazy("must not contain a NUL character")

ERRORS = {
    code: OpenApiResponse(ErrorsOut, description=text)
    for code, text in {
        400: "bad input: the fields at fault, each with its messages",
        401: "not authenticated (token clients)",
        403: "not authenticated (browser session), or the role may not do this",
        404: "missing, or outside the caller's scope",
        409: "the current state forbids it; `status` is the current status",
        413: "the body is over 64 KB",
        415: "the body is not JSON (Content-Type: application/json)",
        429: "too many attempts; try again after Retry-After seconds",
        503: "the database is unavailable; try again after Retry-After seconds",
    }.items()
}
# Any call may be refused (a NUL in its query) or meet a database outage; every POST reads a JSON body.
ALWAYS = (400, 401, 403, 503)
POST = (400, 413, 415)


def errors(*codes):
    """Return the documented error responses for these status codes, and those any call may get."""
    return {code: ERRORS[code] for code in sorted({*ALWAYS, *codes})}


class ApiView(APIView):
    """A view of the v1 API: JSON bodies of at most 64 KB, roles checked before anything else."""

    permission_classes = [RolePermission]
    parser_classes = [LimitedJSONParser]
    read_roles = COMMAND_CENTER
    write_roles = frozenset()

    def initial(self, request, *args, **kwargs):
        """Refuse a NUL character in the path or the query before anything reads them."""
        super().initial(request, *args, **kwargs)
        parts = [(name, str(value)) for name, value in kwargs.items()]
        parts += [(name, value) for name, values in request.query_params.lists() for value in [name, *values]]
        for name, value in parts:
            if "\x00" in value:
                raise Invalid(ERR_NUL, field=name.replace("\x00", ""))

    def parse(self, serializer_class, data):
        """Return the validated input, or raise ValidationError naming the fields at fault."""
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
