"""Escalation notices over REST: the outbox as the command center sees it (docs/PROTOCOL.md, "Notices")."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from api import serializers as s
from api import shapes
from api.base import ApiView, errors
from dispatch import selectors


class NoticesView(ApiView):
    @extend_schema(
        operation_id="notices_list", parameters=[s.NoticeListQuery], responses={200: shapes.NoticeListOut, **errors(400)}
    )
    def get(self, request):
        """List the duty-phone and leader notices, newest first; `status=failed` gives the numbers not reached."""
        query = self.parse(s.NoticeListQuery, request.query_params)
        return Response(selectors.notice_list(**query))
