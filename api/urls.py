"""The whole API, mounted under /api/v1/ (docs/PROTOCOL.md)."""

from django.urls import path, re_path

from api import auth, health, incidents, maps, notices, overview, places, schema, tickets, tiles
from api.errors import not_found

app_name = "api"

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("jurisdictions", maps.JurisdictionsView.as_view(), name="jurisdictions"),
    path("layers", maps.LayersView.as_view(), name="layers"),
    # str, not slug: an unknown name of any shape gets the JSON 404, not Django's HTML page.
    path("layers/<str:name>/features", maps.LayerFeaturesView.as_view(), name="layer-features"),
    path("tiles/<str:tileset>/<int:z>/<int:x>/<int:y>.mvt", tiles.TileView.as_view(), name="tile"),
    path("map/sources", places.MapSourcesView.as_view(), name="map-sources"),
    path("places", places.PlacesView.as_view(), name="places"),
    path("reverse", places.ReverseView.as_view(), name="reverse"),
    path("incidents", incidents.IncidentsView.as_view(), name="incidents"),
    path("incidents/duplicates", incidents.IncidentDuplicatesView.as_view(), name="incident-duplicates"),
    path("incidents/<int:incident_id>", incidents.IncidentView.as_view(), name="incident"),
    path("incidents/<int:incident_id>/severity", incidents.IncidentSeverityView.as_view(), name="incident-severity"),
    path("incidents/<int:incident_id>/calls", incidents.IncidentCallsView.as_view(), name="incident-calls"),
    path("incidents/<int:incident_id>/merge", incidents.IncidentMergeView.as_view(), name="incident-merge"),
    path("incidents/<int:incident_id>/timeline", incidents.IncidentTimelineView.as_view(), name="incident-timeline"),
    path("incidents/<int:incident_id>/assign", incidents.IncidentAssignView.as_view(), name="incident-assign"),
    path("incidents/<int:incident_id>/close", incidents.IncidentCloseView.as_view(), name="incident-close"),
    path("incidents/<int:incident_id>/nearby", incidents.IncidentNearbyView.as_view(), name="incident-nearby"),
    path("tickets", tickets.TicketsView.as_view(), name="tickets"),
    path("tickets/<int:ticket_id>", tickets.TicketView.as_view(), name="ticket"),
    path("tickets/<int:ticket_id>/deliver", tickets.TicketDeliverView.as_view(), name="ticket-deliver"),
    path("tickets/<int:ticket_id>/accept", tickets.TicketAcceptView.as_view(), name="ticket-accept"),
    path("tickets/<int:ticket_id>/reject", tickets.TicketRejectView.as_view(), name="ticket-reject"),
    path("tickets/<int:ticket_id>/confirm", tickets.TicketConfirmView.as_view(), name="ticket-confirm"),
    path("tickets/<int:ticket_id>/feedback", tickets.TicketFeedbackView.as_view(), name="ticket-feedback"),
    path("tickets/<int:ticket_id>/close", tickets.TicketCloseView.as_view(), name="ticket-close"),
    path("tickets/<int:ticket_id>/reopen", tickets.TicketReopenView.as_view(), name="ticket-reopen"),
    path("tickets/<int:ticket_id>/cancel", tickets.TicketCancelView.as_view(), name="ticket-cancel"),
    path("tickets/<int:ticket_id>/check", tickets.TicketCheckView.as_view(), name="ticket-check"),
    path("notices", notices.NoticesView.as_view(), name="notices"),
    path("categories", overview.CategoriesView.as_view(), name="categories"),
    path("subcenters", overview.SubCentersView.as_view(), name="subcenters"),
    path("route", overview.RouteView.as_view(), name="route"),
    path("dashboard", overview.DashboardView.as_view(), name="dashboard"),
    path("dashboard/figures", overview.DashboardFiguresView.as_view(), name="dashboard-figures"),
    path("auth/token", auth.TokenView.as_view(), name="auth-token"),
    path("schema", schema.SchemaView.as_view(), name="schema"),
    path("docs", schema.api_docs, name="docs"),
    # Last: anything else under /api/v1/ (a non-numeric id, a typo) is a JSON 404, not Django's HTML page.
    re_path(r"^.*$", not_found, name="not-found"),
]
