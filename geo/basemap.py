"""Import an OpenStreetMap extract as the offline base map (离线底图), replacing the previous one."""

import hashlib
from dataclasses import dataclass

import shapely
from django.db import connection, transaction

from geo import gazetteer, sql
from geo.models import BasemapImport
from geo.osm import read_extract
from geo.tiles import tileset_bump


@dataclass
class BasemapReport:
    counts: dict
    dropped: int
    names: int
    bounds: list | None
    version: int


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def basemap_import(*, path) -> BasemapReport:
    """Read an extract, then replace the base map, its names and its tiles in one transaction.

    A file that cannot be read raises GeodataError before anything is written.
    """
    extract = read_extract(path)
    sha256 = file_sha256(path)
    with transaction.atomic():
        bounds = _store(extract.records)
        names = gazetteer.placenames_refresh_basemap()
        BasemapImport.objects.create(source=str(path), sha256=sha256, counts=extract.counts(), bounds=bounds)
        version = tileset_bump(tileset="basemap")
    _analyze()
    return BasemapReport(extract.counts(), extract.dropped, names, bounds, version)


def _store(records):
    with connection.cursor() as cursor:
        cursor.execute(sql.BASEMAP_DELETE)
        geoms = shapely.to_wkb(shapely.set_srid([r.geometry for r in records], 4326), hex=True, include_srid=True)
        with cursor.cursor.copy(sql.BASEMAP_COPY) as copy:
            for r, geom in zip(records, geoms, strict=True):
                copy.write_row((r.layer, r.kind, r.name, r.min_zoom, r.osm_id, geom))
        cursor.execute(sql.BASEMAP_BOUNDS)
        row = cursor.fetchone()
    return [round(v, 6) for v in row] if row else None


def _analyze():
    """Refresh planner statistics after a bulk load (the runtime role may be refused: then autovacuum does it)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.ANALYZE_BASEMAP)


def basemap_current() -> dict | None:
    """Return the latest import (source, when, counts, bounds), or None when there is no base map."""
    latest = BasemapImport.objects.order_by("-id").first()
    if latest is None:
        return None
    return {
        "source": latest.source.rsplit("/", 1)[-1], "sha256": latest.sha256, "imported_at": latest.imported_at,
        "counts": latest.counts, "bounds": latest.bounds,
    }
