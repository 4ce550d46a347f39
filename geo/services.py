"""Every write of the geo app: one function each, keyword-only, one transaction."""

from dataclasses import dataclass, field

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.db.models import Sum

from geo import gazetteer, sql
from geo.models import Feature, Jurisdiction, Layer, SubCenter, SubCenterKind
from geo.tiles import tileset_bump


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    repaired: list[str] = field(default_factory=list)
    parents_missing: list[str] = field(default_factory=list)
    subcenters_created: int = 0


def _geos(geometry):
    return GEOSGeometry(memoryview(shapely.to_wkb(geometry)), srid=4326)


@transaction.atomic
def jurisdictions_import(*, records, level, subcenter_kinds=()) -> ImportReport:
    """Insert or update jurisdictions by code; link parents; optionally add sub-centers."""
    kinds = _kinds(subcenter_kinds)
    report = ImportReport(repaired=[f"{r.name} ({r.key})" for r in records if r.repaired])
    existing = set(
        Jurisdiction.objects.filter(code__in=[r.key for r in records]).values_list("code", flat=True)
    )
    report.updated = len(existing)
    report.created = len(records) - len(existing)
    Jurisdiction.objects.bulk_create(
        [
            Jurisdiction(
                code=r.key, name=r.name, level=level, geom=_geos(r.geometry), properties=r.properties
            )
            for r in records
        ],
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "level", "geom", "properties"],
        batch_size=200,
    )
    by_code = {j.code: j for j in Jurisdiction.objects.filter(code__in=[r.key for r in records])}
    _compute_areas([j.id for j in by_code.values()])
    report.parents_missing = _link_parents(records, by_code)
    for kind in kinds:
        for record in records:
            report.subcenters_created += _subcenter_for(by_code[record.key], kind)
    _analyze()
    _refresh_coverage_areas([j.id for j in by_code.values()])
    _map_changed()
    return report


def _map_changed():
    """Refresh the place search's jurisdictions and sub-centers, and start a new version of our tiles."""
    gazetteer.placenames_refresh_jurisdictions()
    tileset_bump(tileset="ours")


def _analyze():
    """Refresh planner statistics: right after a bulk import, routing is 40× slower without."""
    with connection.cursor() as cursor:
        cursor.execute(sql.ANALYZE_ROUTING_TABLES)


def _kinds(codes):
    kinds = list(SubCenterKind.objects.filter(code__in=codes))
    unknown = set(codes) - {k.code for k in kinds}
    if unknown:
        known = ", ".join(SubCenterKind.objects.values_list("code", flat=True))
        raise ValueError(f"unknown sub-center kind(s): {', '.join(sorted(unknown))} (known: {known})")
    return kinds


def _compute_areas(ids):
    with connection.cursor() as cursor:
        cursor.execute(sql.JURISDICTION_AREAS, [ids])


def _link_parents(records, by_code):
    wanted = {r.parent_key for r in records if r.parent_key}
    parents = {j.code: j for j in Jurisdiction.objects.filter(code__in=wanted)}
    missing = []
    for record in records:
        child = by_code[record.key]
        parent = parents.get(record.parent_key)
        if record.parent_key and parent is None:
            missing.append(f"{record.name} ({record.key}) → {record.parent_key}")
        if child.parent_id != (parent.id if parent else None):
            child.parent = parent
            child.save(update_fields=["parent"])
    return missing


def _subcenter_for(jurisdiction, kind):
    """Ensure one sub-center of a kind covers a jurisdiction; return 1 if created."""
    name_en = jurisdiction.properties.get("name_en") or jurisdiction.name
    subcenter, created = SubCenter.objects.update_or_create(
        code=f"{jurisdiction.code}-{kind.code}",
        defaults={
            "name": f"{jurisdiction.name}{kind.name}",
            "name_en": f"{name_en} {kind.name_en}".strip(),
            "kind": kind,
        },
    )
    subcenter.jurisdictions.add(jurisdiction)
    return int(created)


def _refresh_coverage_areas(jurisdiction_ids):
    """Recompute, in one statement, the coverage area of every sub-center covering these."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SUBCENTER_COVERAGE_AREAS, [jurisdiction_ids])


def subcenter_refresh_coverage_area(*, subcenter) -> None:
    """Store the sum of the covered jurisdictions' areas, used to prefer the most specific."""
    area = subcenter.jurisdictions.aggregate(total=Sum("area_m2"))["total"] or 0
    SubCenter.objects.filter(pk=subcenter.pk).update(coverage_area_m2=area)
    subcenter.coverage_area_m2 = area


@transaction.atomic
def layer_import(*, name, records, title="", attribution="") -> ImportReport:
    """Insert or update a layer's features by key."""
    layer, _ = Layer.objects.get_or_create(name=name)
    if title or attribution:
        layer.title = title or layer.title
        layer.attribution = attribution or layer.attribution
        layer.save()
    existing = set(layer.features.values_list("key", flat=True))
    report = ImportReport(repaired=[f"{r.name or r.key}" for r in records if r.repaired])
    report.updated = len(existing & {r.key for r in records})
    report.created = len(records) - report.updated
    Feature.objects.bulk_create(
        [
            Feature(layer=layer, key=r.key, name=r.name, geom=_geos(r.geometry), properties=r.properties)
            for r in records
        ],
        update_conflicts=True,
        unique_fields=["layer", "key"],
        update_fields=["name", "geom", "properties"],
    )
    gazetteer.placenames_refresh_layer(layer=layer)
    tileset_bump(tileset="ours")
    return report
