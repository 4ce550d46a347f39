"""Every read of the dispatch app, one module per subject, each scoped by the reader's role.

The names are re-exported here so a caller says `selectors.incident_detail(...)`.
"""

from dispatch.selectors.calls import incident_calls, incident_duplicates
from dispatch.selectors.dashboard import dashboard_figures, dashboard_timeliness, day_window, last_hours_window
from dispatch.selectors.incidents import (
    incident_detail,
    incident_list_geojson,
    incident_nearby_features,
    incident_report_result,
    incident_tickets,
    incident_timeline,
)
from dispatch.selectors.notices import notice_list
from dispatch.selectors.presence import subcenter_terminal_health
from dispatch.selectors.reference import categories_list, plan_data, route_preview, subcenters_list
from dispatch.selectors.scope import incident_get, incidents_visible, ticket_get, tickets_visible
from dispatch.selectors.tickets import ticket_list

__all__ = [
    "categories_list", "dashboard_figures", "dashboard_timeliness", "day_window", "incident_calls", "incident_detail",
    "incident_duplicates", "incident_get", "incident_list_geojson", "incident_nearby_features", "incident_report_result",
    "incident_tickets", "incident_timeline",
    "incidents_visible", "last_hours_window", "notice_list", "plan_data", "route_preview", "subcenter_terminal_health",
    "subcenters_list", "ticket_get", "ticket_list", "tickets_visible",
]
