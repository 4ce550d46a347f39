"""Every write of the dispatch app, one module per aggregate; each function keyword-only, one transaction.

Views, consumers, admin actions and commands call these; nothing else changes domain state.
The names are re-exported here so a caller says `services.ticket_accept(...)`.
"""

from dispatch.services.calls import CallLogged, Merge, call_attach, incident_merge
from dispatch.services.checkpoints import checkpoint_sign_due, checkpoints_copy
from dispatch.services.escalation import ticket_escalate_now, tickets_escalate_due
from dispatch.services.incidents import (
    ERR_IDEMPOTENCY_REUSED,
    Report,
    SeverityChange,
    incident_assign,
    incident_close,
    incident_edit,
    incident_report,
    incident_set_severity,
)
from dispatch.services.notices import notices_send_due
from dispatch.services.presence import (
    terminal_connect,
    terminal_disconnect,
    terminal_heartbeat,
    terminals_beat,
    terminals_sweep,
)
from dispatch.services.tickets import (
    ticket_accept,
    ticket_cancel,
    ticket_check,
    ticket_close,
    ticket_confirm,
    ticket_deliver,
    ticket_feedback,
    ticket_reject,
    ticket_reopen,
)
from dispatch.services.users import user_add

__all__ = [
    "ERR_IDEMPOTENCY_REUSED", "CallLogged", "Merge", "Report", "SeverityChange", "call_attach",
    "checkpoint_sign_due", "checkpoints_copy", "incident_assign", "incident_close", "incident_edit", "incident_merge",
    "incident_report", "incident_set_severity",
    "notices_send_due", "terminal_connect", "terminal_disconnect", "terminal_heartbeat", "terminals_beat", "terminals_sweep",
    "ticket_accept", "ticket_cancel", "ticket_check", "ticket_close", "ticket_confirm", "ticket_deliver", "ticket_escalate_now",
    "ticket_feedback", "ticket_reject", "ticket_reopen", "tickets_escalate_due", "user_add",
]
