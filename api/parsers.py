"""A JSON parser with a size limit: the API refuses large bodies with 413 before reading them.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE is one number for the whole site and DRF's parsers
read the stream without it, so the API keeps its own limit here.
"""

import io

from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from api.errors import PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024
ERR_TOO_DEEP = gettext_lazy("JSON parse error - the body is nested too deeply")


class LimitedJSONParser(JSONParser):
    """Parse a JSON body of at most MAX_BODY_BYTES."""

    limit = MAX_BODY_BYTES

    def parse(self, stream, media_type=None, parser_context=None):
        """Refuse a body over the limit by its Content-Length, then by what is actually read."""
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > self.limit:
            raise PayloadTooLarge(self.limit)
        body = stream.read(self.limit + 1)
        if len(body) > self.limit:
            raise PayloadTooLarge(self.limit)
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:  # json gives up on deep nesting by running out of stack
            raise ParseError(ERR_TOO_DEEP) from None
