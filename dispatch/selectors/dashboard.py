"""Timeliness and trend figures for the leaders' dashboard and the daily bulletin, computed in SQL.

Every duration is measured from the moment the ticket was issued (下发) to the moment it
reached the stage, in seconds: what a caller waiting for help experiences. An open ticket that
has not reached a stage yet counts with its age so far (a sub-center that never delivers shows
a figure, and it grows); a ticket rejected or cancelled before the stage is left out.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from dispatch import lifecycle, sql
from dispatch.models import Incident, IncidentStatus, Ticket, TicketStatus

STAGES = sql.TIMELINESS_STAGES


def day_window(day: date) -> tuple[datetime, datetime]:
    """Return the start and end of a calendar day in the command center's time zone."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def last_hours_window(hours: int = 24, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Return the window of the last `hours` whole hours up to now (the current hour included)."""
    now = (now or timezone.now()).astimezone(ZoneInfo(settings.TIME_ZONE))
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(hours=hours), end


def subcenter_timeliness(*, start: datetime, end: datetime, now: datetime | None = None) -> list[dict]:
    """Return, per sub-center with tickets issued in the window, the median and 90th percentile per stage."""
    params = {"start": start, "end": end, "now": now or timezone.now(), "open": list(lifecycle.OPEN)}
    with connection.cursor() as cursor:
        cursor.execute(sql.TIMELINESS_BY_SUBCENTER, params)
        columns = [c.name for c in cursor.description]
        rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return [_timeliness_row(row) for row in rows]


def _timeliness_row(row):
    seconds = {
        stage: {
            "p50": _round(row[f"{stage}_p50"]), "p90": _round(row[f"{stage}_p90"]),
            "n": row[f"{stage}_n"], "waiting": row[f"{stage}_waiting"],
        }
        for stage in STAGES
    }
    return {"code": row["code"], "name": row["name"], "name_en": row["name_en"], "tickets": row["tickets"],
            "overdue": row["overdue"], "seconds": seconds}


def _round(value):
    return None if value is None else round(float(value), 1)


def slowest(timeliness: list[dict], *, min_tickets: int | None = None) -> dict:
    """Return, per stage, the sub-center with the highest 90th percentile, or None.

    Only a sub-center with at least SLOWEST_MIN_TICKETS tickets counted in the stage and a 90th
    percentile above 0 may be named: one ticket is no pattern, and 0 s is nobody's fault.
    """
    min_tickets = settings.SLOWEST_MIN_TICKETS if min_tickets is None else min_tickets
    result = {}
    for stage in STAGES:
        measured = [
            row for row in timeliness
            if row["seconds"][stage]["n"] >= min_tickets and (row["seconds"][stage]["p90"] or 0) > 0
        ]
        worst = max(measured, key=lambda row: row["seconds"][stage]["p90"], default=None)
        result[stage] = None if worst is None else {
            "code": worst["code"], "name": worst["name"], "name_en": worst["name_en"],
            "p90": worst["seconds"][stage]["p90"], "n": worst["seconds"][stage]["n"],
        }
    return result


def hourly_incidents(*, start: datetime, end: datetime) -> list[dict]:
    """Return the number of incidents reported in each local hour of the window, zeros included."""
    with connection.cursor() as cursor:
        cursor.execute(sql.INCIDENTS_BY_HOUR, {"tz": settings.TIME_ZONE, "start": start, "end": end})
        counts = {hour.strftime("%Y-%m-%dT%H:00"): n for hour, n in cursor.fetchall()}
    zone = ZoneInfo(settings.TIME_ZONE)
    hours, at = [], start.astimezone(zone)
    while at < end:
        key = at.strftime("%Y-%m-%dT%H:00")
        hours.append({"hour": key, "incidents": counts.get(key, 0)})
        at += timedelta(hours=1)
    return hours


def reported_in_window(*, start: datetime, end: datetime) -> dict:
    """Return the incidents reported in the window, by category and by severity, and how many are closed."""
    incidents = Incident.objects.filter(reported_at__gte=start, reported_at__lt=end)
    by_category = {
        row["category__code"]: {"name": row["category__name"], "count": row["n"]}
        for row in incidents.values("category__code", "category__name").annotate(n=Count("id")).order_by("-n")
    }
    by_severity = dict.fromkeys(("1", "2", "3", "4"), 0)
    for row in incidents.values("severity").annotate(n=Count("id")):
        by_severity[str(row["severity"])] = row["n"]
    return {
        "total": incidents.count(),
        "closed": incidents.filter(status=IncidentStatus.CLOSED).count(),
        "by_category": by_category,
        "by_severity": by_severity,
        "tickets": Ticket.objects.filter(issued_at__gte=start, issued_at__lt=end).count(),
        "tickets_overdue": Ticket.objects.filter(issued_at__gte=start, issued_at__lt=end, overdue=True).count(),
    }


def dashboard_timeliness(*, start: datetime, end: datetime, now: datetime | None = None) -> dict:
    """Return the timeliness figures, the slowest sub-center per stage and the hourly trend for a window."""
    now = now or timezone.now()
    timeliness = subcenter_timeliness(start=start, end=end, now=now)
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "measured_at": now.isoformat(),
        "slowest_min_tickets": settings.SLOWEST_MIN_TICKETS,
        "stages": list(STAGES),
        "subcenters": timeliness,
        "slowest": slowest(timeliness),
        "hourly": hourly_incidents(start=start, end=end),
        "reported": reported_in_window(start=start, end=end),
    }


def _counts(queryset, field, keys=()):
    counts = dict.fromkeys(keys, 0)
    for row in queryset.values(field).annotate(n=Count("id")).order_by(field):
        counts[row[field]] = row["n"]
    return counts


def dashboard_figures(*, now: datetime | None = None) -> dict:
    """Return the live figures for leaders: what is open, where, how severe, what is late."""
    now = now or timezone.now()
    incidents = Incident.objects.all()
    open_incidents = incidents.exclude(status=IncidentStatus.CLOSED)
    late = Ticket.objects.filter(status__in=lifecycle.OPEN).filter(Q(overdue=True) | Q(due_at__lt=now))
    return {
        "generated_at": now.isoformat(),
        "incidents": {
            "total": incidents.count(),
            "open": open_incidents.count(),
            "by_status": _counts(incidents, "status", IncidentStatus.values),
            "open_by_category": _counts(open_incidents, "category__code"),
            "open_by_severity": {str(k): v for k, v in _counts(open_incidents, "severity", (1, 2, 3, 4)).items()},
        },
        "tickets": {
            "by_status": _counts(Ticket.objects.all(), "status", TicketStatus.values),
            "overdue_now": late.count(),
            "overdue_by_subcenter": _counts(late, "subcenter__code"),
        },
    }
