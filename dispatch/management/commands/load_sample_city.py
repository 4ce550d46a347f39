"""Load the sample city (临沧市, real DataV boundaries) and, for the embedded demo, demo users."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from dispatch.roles import Role
from dispatch.services import user_add
from geo.importers import jurisdiction_records, layer_records
from geo.models import SubCenter, SubCenterKind
from geo.services import jurisdictions_import, layer_import

FIXTURES = Path(settings.BASE_DIR) / "fixtures" / "lincang"
ATTRIBUTION = "Boundaries: DataV.GeoAtlas (Aliyun), 2021"


class Command(BaseCommand):
    help = "Load 临沧市 Lincang: 8 counties, 6 sub-centers each, county seats (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo-logins", metavar="FILE",
            help="also create demo users with generated passwords, kept in FILE (embedded demo only)",
        )

    def handle(self, *args, demo_logins=None, **options):
        load_geodata()
        self.stdout.write(
            f"sample city: 临沧市, {SubCenter.objects.filter(code__startswith='5309').count()} sub-centers"
        )
        if demo_logins:
            ensure_demo_users(Path(demo_logins))
            self.stdout.write(f"demo logins: {demo_logins} (readable by this account only)")


def load_geodata():
    city = jurisdiction_records(FIXTURES / "city_gcj02.geojson", name_field="name", code_field="adcode", gcj02=True)
    jurisdictions_import(records=city, level="city")
    counties = jurisdiction_records(
        FIXTURES / "counties_gcj02.geojson", name_field="name", code_field="adcode",
        parent_field="parent.adcode", gcj02=True,
    )
    kinds = list(SubCenterKind.objects.values_list("code", flat=True))
    jurisdictions_import(records=counties, level="county", subcenter_kinds=kinds)
    seats = layer_records(FIXTURES / "county_seats_gcj02.geojson", name_field="name", code_field="adcode", gcj02=True)
    layer_import(name="county_seats", records=seats, title="县级政府驻地 County seats", attribution=ATTRIBUTION)


def ensure_demo_users(path):
    """Create the demo cast once; later runs keep the passwords already handed out."""
    known = {row["username"]: row for row in json.loads(path.read_text())} if path.exists() else {}
    cast = [("dispatcher", Role.DISPATCHER, None), ("leader", Role.LEADER, None), ("admin", Role.ADMIN, None)]
    cast += [(f"op-{s.code}", Role.OPERATOR, s.code) for s in SubCenter.objects.filter(code__startswith="5309")]
    existing = set(get_user_model().objects.filter(username__in=known).values_list("username", flat=True))
    rows = []
    for username, role, subcenter in cast:
        password = known.get(username, {}).get("password")
        if username not in existing:  # hashing 51 passwords is slow; do it once
            _, password = user_add(username=username, role=role, subcenter_code=subcenter, password=password)
        rows.append({"username": username, "role": role.value, "subcenter": subcenter, "password": password})
    write_private(path, json.dumps(rows, ensure_ascii=False, indent=1))


def write_private(path, text):
    """Write a file only its owner may read, from its first byte (the passwords never reach a log)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have been created with wider rights
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
