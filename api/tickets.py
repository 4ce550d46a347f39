"""Tickets over REST: list, read, and each step of the lifecycle (docs/PROTOCOL.md, "Tickets") as one POST."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from api import serializers as s
from api import shapes
from api.base import POST, ApiView, errors
from api.permissions import EVERYONE, TICKET_HANDLERS
from dispatch import selectors, services
from dispatch.representations import feedback_data, ticket_data
from dispatch.selectors.stream import head_seq


class TicketsView(ApiView):
    read_roles = EVERYONE

    @extend_schema(
        operation_id="tickets_list", parameters=[s.TicketListQuery], responses={200: shapes.TicketListOut, **errors(400)}
    )
    def get(self, request):
        """List the tickets the caller may see, newest first; an operator sees only their sub-center's."""
        query = self.parse(s.TicketListQuery, request.query_params)
        return Response(selectors.ticket_list(user=request.user, **query))


class TicketView(ApiView):
    read_roles = EVERYONE

    @extend_schema(operation_id="tickets_detail", responses={200: shapes.TicketOneOut, **errors(404)})
    def get(self, request, ticket_id):
        """Return one ticket (404 for another sub-center's)."""
        return Response({"ticket": ticket_data(selectors.ticket_get(user=request.user, ticket_id=ticket_id))})


class TicketActionView(ApiView):
    """One lifecycle action: call its service, answer with the ticket and whether it changed."""

    write_roles = TICKET_HANDLERS
    input = s.EmptyIn
    service = None  # a staticmethod: a dispatch.services function taking actor, ticket_id and the input

    def post(self, request, ticket_id):
        data = self.parse(self.input, request.data)
        ticket, changed = self.service(actor=request.user, ticket_id=ticket_id, **data)
        return Response({"ticket": ticket_data(ticket), "changed": changed, "seq": head_seq()})


def _documented(name, doc, input=s.EmptyIn):
    """Return the schema of one lifecycle action's POST."""
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"tickets_{name}", description=doc, request=input,
            responses={200: shapes.TicketChangeOut, **errors(*POST, 404, 409)},
        )
    )


@_documented("deliver", "Record the receipt of a terminal that is not on the stream (operator).")
class TicketDeliverView(TicketActionView):
    service = staticmethod(services.ticket_deliver)


@_documented("accept", "Take responsibility for the ticket (operator).")
class TicketAcceptView(TicketActionView):
    service = staticmethod(services.ticket_accept)


@_documented("reject", "Refuse the ticket with a reason: it goes back to the command center (operator).", s.ReasonIn)
class TicketRejectView(TicketActionView):
    service, input = staticmethod(services.ticket_reject), s.ReasonIn


@_documented("confirm", "Confirm the acceptance: the handoff is complete (command center).")
class TicketConfirmView(TicketActionView):
    service = staticmethod(services.ticket_confirm)


@_documented("close", "Close a resolved ticket after review (command center).")
class TicketCloseView(TicketActionView):
    service = staticmethod(services.ticket_close)


@_documented("reopen", "Send a resolved ticket back to the sub-center, with a reason (command center).", s.ReasonIn)
class TicketReopenView(TicketActionView):
    service, input = staticmethod(services.ticket_reopen), s.ReasonIn


@_documented("cancel", "Withdraw an open ticket, with a reason (command center).", s.ReasonIn)
class TicketCancelView(TicketActionView):
    service, input = staticmethod(services.ticket_cancel), s.ReasonIn


@_documented(
    "check", "Tick or untick one checklist item of an open ticket (its sub-center's operator); event ticket.checked.",
    s.CheckIn,
)
class TicketCheckView(TicketActionView):
    service, input = staticmethod(services.ticket_check), s.CheckIn


class TicketFeedbackView(ApiView):
    write_roles = TICKET_HANDLERS

    @extend_schema(
        operation_id="tickets_feedback", request=s.FeedbackIn,
        responses={201: shapes.FeedbackCreatedOut, **errors(*POST, 404, 409)},
    )
    def post(self, request, ticket_id):
        """Post progress feedback, or a final report that resolves the ticket (operator)."""
        data = self.parse(s.FeedbackIn, request.data)
        feedback, ticket = services.ticket_feedback(actor=request.user, ticket_id=ticket_id, **data)
        return Response(
            {"feedback": feedback_data(feedback), "ticket": ticket_data(ticket), "seq": head_seq()},
            status=status.HTTP_201_CREATED,
        )
