"""Every SQL statement of the dispatch app written by hand, each named for what it does.

The ORM serves everywhere else. These are the hot paths, where compiling a query cost more
CPU than running it (bench/README.md), and the aggregates the ORM cannot say. Each one's
query count is pinned in tests/test_query_counts.py. The event sequencer, a trigger, lives
beside this file in event_sequencer.sql (read by migration 0009); the checkpoints' guard in
checkpoint_guard.sql (migration 0011); the security audit's sequencer and guard in
audit_sequencer.sql (migration 0012).
"""

from pathlib import Path

from django.db import connection

DB = "default"
HERE = Path(__file__).resolve().parent

# ---- tickets and incidents -----------------------------------------------------------

INCIDENT_PART = ("id", "status", "closed_at", "unassigned_kinds")
SUBCENTER_PART = ("id", "code", "name", "name_en", "kind_id", "duty_phone")  # what ticket_data shows

# A ticket locked for a lifecycle action, with the incident and sub-center fields the services
# read. After waiting for the lock PostgreSQL re-reads the ticket, not the joined rows: join only
# rows no concurrent ticket service changes.
LOCK_TICKET = f"""
SELECT t.*, {", ".join(f"i.{f} AS i_{f}" for f in INCIDENT_PART)}, {", ".join(f"s.{f} AS s_{f}" for f in SUBCENTER_PART)}
FROM dispatch_ticket t JOIN dispatch_incident i ON i.id = t.incident_id JOIN geo_subcenter s ON s.id = t.subcenter_id
WHERE t.id = %s FOR UPDATE OF t
"""

LOCK_INCIDENT = "SELECT status, closed_at, unassigned_kinds FROM dispatch_incident WHERE id = %s FOR UPDATE"

TICKETS_OF_INCIDENT = "SELECT status, subcenter_id FROM dispatch_ticket WHERE incident_id = %s"

# An incident's distance in meters (on the spheroid) from the point (lon, lat): the duplicates search.
INCIDENT_DISTANCE_M = (
    "ST_Distance(dispatch_incident.location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)"
)

# ---- the event log ---------------------------------------------------------------------

APPEND_EVENTS = """
INSERT INTO dispatch_event (name, incident_id, ticket_id, audience, actor_id, payload, created_at, body_hash, prev_hash, hash)
VALUES {rows} RETURNING id
"""
APPEND_EVENT_ROW = "(%s, %s, %s, %s::bigint[], %s, %s, %s, %s, '', '')"

SEQS_OF_EVENTS = "SELECT id, seq FROM dispatch_event WHERE id = ANY(%s)"

READ_ONLY_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"

# ---- terminals -------------------------------------------------------------------------

TERMINAL_HEALTH = """
SELECT subcenter_id, count(*), count(*) FILTER (WHERE audio_armed), max(last_heartbeat_at)
FROM dispatch_terminal WHERE subcenter_id = ANY(%s) AND last_heartbeat_at >= %s
GROUP BY subcenter_id
"""

RECORD_QUIET_HEARTBEATS = """
UPDATE dispatch_terminal t SET last_heartbeat_at = %s, page_visible = beat.page_visible
FROM unnest(%s::text[], %s::boolean[]) AS beat(channel_name, page_visible)
WHERE t.channel_name = beat.channel_name
"""

# ---- figures for leaders ---------------------------------------------------------------

TIMELINESS_STAGES = ("delivered", "accepted", "first_feedback", "closed")
# A stage's seconds: to the moment it was reached, or for an open ticket that has not reached it yet, its
# age so far (to %(now)s); a ticket rejected or cancelled before reaching it is not counted (NULL).
_SECONDS = (
    "extract(epoch FROM coalesce(t.{stage}_at, CASE WHEN t.status = ANY(%(open)s) THEN %(now)s END) - t.issued_at)"
)
_PERCENTILES = ",\n".join(
    f"percentile_cont({p / 100}) WITHIN GROUP (ORDER BY {_SECONDS.format(stage=stage)}) AS {stage}_p{p}"
    for stage in TIMELINESS_STAGES
    for p in (50, 90)
)
_STAGE_COUNTS = ",\n".join(
    f"count({_SECONDS.format(stage=stage)}) AS {stage}_n, "
    f"count(*) FILTER (WHERE t.{stage}_at IS NULL AND t.status = ANY(%(open)s)) AS {stage}_waiting"
    for stage in TIMELINESS_STAGES
)

TIMELINESS_BY_SUBCENTER = f"""
    SELECT sc.code, sc.name, sc.name_en, count(*) AS tickets,
           count(*) FILTER (WHERE t.overdue) AS overdue,
           {_PERCENTILES},
           {_STAGE_COUNTS}
    FROM dispatch_ticket t JOIN geo_subcenter sc ON sc.id = t.subcenter_id
    WHERE t.issued_at >= %(start)s AND t.issued_at < %(end)s
    GROUP BY sc.id, sc.code, sc.name, sc.name_en
    ORDER BY sc.code
"""

INCIDENTS_BY_HOUR = """
    SELECT date_trunc('hour', reported_at AT TIME ZONE %(tz)s) AS hour, count(*)
    FROM dispatch_incident
    WHERE reported_at >= %(start)s AND reported_at < %(end)s
    GROUP BY 1 ORDER BY 1
"""


# ---- helpers ---------------------------------------------------------------------------


def sql_file(name):
    """Return the text of a .sql file kept beside this module."""
    return (HERE / name).read_text()


def row_partial(model, values):
    """Return a model instance with only these fields loaded; the others load on first access."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(DB, names, [values[name] for name in names])


def row_update(instance, names):
    """Write these fields of one row: Model.save(update_fields=…) without compiling a query each time."""
    meta = type(instance)._meta
    fields = [meta.get_field(name) for name in names]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {meta.db_table} SET {', '.join(f'{field.column} = %s' for field in fields)} WHERE id = %s",
            [*(field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields), instance.pk],
        )
