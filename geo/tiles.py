"""Vector tiles (Mapbox Vector Tiles) made by PostGIS (ST_AsMVT), cached in a table.

Two tile sets: `basemap` (the OpenStreetMap base map) and `ours` (jurisdictions, their labels,
every layer's features). A cached tile is kept under its tile set's version; whatever changes a
set's data bumps the version in the same transaction (`tileset_bump`), so a re-import never
serves an old tile and drops the old ones. An empty tile is cached as empty bytes.
"""

from django.db import connection

from geo import sql

TILESETS = {"basemap": sql.BASEMAP_TILE, "ours": sql.OURS_TILE}
MAX_ZOOM = 22


class TileOutOfRange(ValueError):
    """z, x or y names no tile."""


def tile_check(*, z: int, x: int, y: int) -> None:
    """Raise TileOutOfRange unless z/x/y names a Web Mercator tile."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileOutOfRange(f"zoom must be 0..{MAX_ZOOM}, got {z}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileOutOfRange(f"at zoom {z} x and y must be 0..{2**z - 1}, got {x}/{y}")


def tile_get(*, tileset: str, z: int, x: int, y: int) -> bytes:
    """Return the tile's bytes (b"" when empty): from the cache, or made and cached."""
    tile_check(z=z, x=x, y=y)
    params = {"tileset": tileset, "z": z, "x": x, "y": y}
    with connection.cursor() as cursor:
        cursor.execute(sql.TILE_CACHED, params)
        version, cached = cursor.fetchone()
        if cached is not None:
            return bytes(cached)
        cursor.execute(TILESETS[tileset], params)
        tile = bytes(cursor.fetchone()[0] or b"")
        cursor.execute(sql.TILE_STORE, {**params, "version": version, "tile": tile})
    return tile


def tile_make(*, tileset: str, z: int, x: int, y: int) -> bytes:
    """Return the tile made afresh, bypassing the cache (the benchmark's cold figure)."""
    tile_check(z=z, x=x, y=y)
    with connection.cursor() as cursor:
        cursor.execute(TILESETS[tileset], {"z": z, "x": x, "y": y})
        return bytes(cursor.fetchone()[0] or b"")


def tileset_bump(*, tileset: str) -> int:
    """Start a new version of a tile set and drop the tiles cached under older ones; return it."""
    with connection.cursor() as cursor:
        cursor.execute(sql.TILESET_BUMP, {"tileset": tileset})
        return cursor.fetchone()[0]
