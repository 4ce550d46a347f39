"""Write the security audit as JSON lines, oldest first, for an auditor or a log archive."""

import json
from datetime import datetime, time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from dispatch.selectors.audit import audit_records

ERR_SINCE = "--since takes a date (2027-01-05) or a time (2027-01-05T08:00:00+08:00), not {value!r}"


class Command(BaseCommand):
    help = "Write the security audit's records as JSON lines (seq, at, kind, outcome, username, user_id, address, detail, prev_hash, hash)."

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="WHEN", help="only records at or after this date or time (local time zone)")
        parser.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")

    def handle(self, *args, since=None, out=None, **options):
        start = _when(since) if since else None
        lines = (_line(record) for record in audit_records(since=start))
        if not out:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        count = 0
        with open(Path(out), "w", encoding="utf-8") as target:
            for line in lines:
                target.write(line)
                count += 1
        self.stderr.write(f"{count} security records written to {out}")


def _line(record):
    return json.dumps({**record, "at": record["at"].isoformat()}, ensure_ascii=False, sort_keys=True) + "\n"


def _when(value):
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(ERR_SINCE.format(value=value))
        moment = datetime.combine(day, time.min)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
