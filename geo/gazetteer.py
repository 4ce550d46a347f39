"""The place search (地名检索): names of the base map, jurisdictions, sub-centers and layers.

Every name is stored with its search keys (`PlaceName.keys`): the name lower-cased without
accents (Vaduz → vaduz, Sassfürkle → sassfurkle), and for a Chinese name its pinyin and the
pinyin's initials (凤庆县 → fengqingxian fqx). A query is normalised the same way and Chinese
characters in it become pinyin too, so characters, pinyin and initials all meet in one
trigram-indexed column (pg_trgm word similarity); the characters themselves rank a name higher.
Incidents' addresses live in dispatch, which the API merges in (geo knows no incidents).
"""

import json
import re
import unicodedata

from django.db import connection
from pypinyin import lazy_pinyin

from geo import sql
from geo.models import BasemapFeature, Layer, PlaceName

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_WORD = re.compile(r"[^\w]+")
MIN_QUERY_KEYS = 2  # one letter matches too much to rank
CANDIDATES = 200  # a short query's best matches, ranked again by the distance on the spheroid
MAX_PREFIX = 8  # word beginnings kept for the search as one types (PlacePrefix)

# Among equally good matches: settlements first, then what a caller names as an address.
WEIGHTS = {
    PlaceName.Kind.PLACE: 50, PlaceName.Kind.JURISDICTION: 45, PlaceName.Kind.STREET: 30,
    PlaceName.Kind.POI: 25, PlaceName.Kind.SUBCENTER: 20, PlaceName.Kind.FEATURE: 20, PlaceName.Kind.WATER: 15,
}
BASEMAP_KINDS = {
    BasemapFeature.Layer.PLACES: PlaceName.Kind.PLACE, BasemapFeature.Layer.POIS: PlaceName.Kind.POI,
    BasemapFeature.Layer.ROADS: PlaceName.Kind.STREET, BasemapFeature.Layer.WATER: PlaceName.Kind.WATER,
    BasemapFeature.Layer.WATERWAYS: PlaceName.Kind.WATER,
}


def normalise(text: str) -> str:
    """Return text lower-cased, without accents, its punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", bare)).replace("_", " ").strip()


def han_only(text: str) -> str:
    return "".join(_HAN.findall(text))


def search_keys(name: str, *others: str) -> str:
    """Return the search keys of a name (and its other names): normalised, pinyin, initials."""
    keys = []
    for text in (name, *others):
        if not text:
            continue
        keys.append(normalise(text))
        if _HAN.search(text):
            syllables = [s for s in lazy_pinyin(han_only(text)) if s.isalpha()]
            keys += ["".join(syllables), "".join(s[0] for s in syllables)]
    return " ".join(k for k in keys if k)


def query_keys(query: str) -> str:
    """Return a query as the keys it is matched against: Chinese characters become pinyin."""
    text = normalise(query)
    if _HAN.search(text):
        text = "".join(lazy_pinyin(text)).replace(" ", "")
    return text


# ---- reads -----------------------------------------------------------------------------------


def places_search(*, query: str, near: tuple[float, float] | None = None, limit: int = 10) -> list[dict]:
    """Return the names matching `query`, best first.

    Names with a word beginning with the query come first (the search as one types); only when
    there is none, the most similar names (a typo). sql.PLACES_BY_* say how each is ranked.
    """
    keys = query_keys(query)
    first_word = keys.split()[0] if keys else ""
    if len(first_word) < MIN_QUERY_KEYS:
        return []
    lon, lat = near or (None, None)
    params = {"keys": keys, "prefix": first_word[:MAX_PREFIX], "han": han_only(query), "lon": lon, "lat": lat,
              "limit": limit, "candidates": CANDIDATES}
    short = len(keys) <= MAX_PREFIX and " " not in keys
    with connection.cursor() as cursor:
        cursor.execute(sql.PLACES_BY_PREFIX if short else sql.PLACES_BY_LONG_PREFIX, params)
        rows = cursor.fetchall()
        if not rows:
            cursor.execute(sql.PLACES_BY_SIMILARITY, params)
            rows = cursor.fetchall()
    return [_result(*row[:-1]) for row in rows]


def _result(name, kind, detail, source, key, lon, lat, bbox, distance):
    return {
        "name": name, "kind": kind, "detail": detail, "source": source, "key": key,
        "location": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "bbox": json.loads(bbox) if isinstance(bbox, str) else bbox,
        "distance_m": None if distance is None else round(distance, 1),
    }


# ---- writes (called inside the importers' transactions) ---------------------------------------


def placenames_refresh_basemap() -> int:
    """Replace the base map's names with those of the base map now stored; return how many."""
    with connection.cursor() as cursor:
        cursor.execute(sql.BASEMAP_NAMES)
        rows = cursor.fetchall()
    names = [
        _row(name, BASEMAP_KINDS[layer], kind, "basemap", osm_id, x, y, _bbox(box))
        for name, layer, kind, osm_id, x, y, *box in rows
    ]
    return _replace(["basemap"], names)


def placenames_refresh_jurisdictions() -> int:
    """Replace the names of jurisdictions and sub-centers; return how many."""
    with connection.cursor() as cursor:
        cursor.execute(sql.JURISDICTION_NAMES)
        jurisdictions = cursor.fetchall()
        cursor.execute(sql.SUBCENTER_NAMES)
        subcenters = cursor.fetchall()
    where = {}
    names = []
    for name, level, code, x, y, *box, name_en in jurisdictions:
        where[code] = (x, y, _bbox(box))
        names.append(_row(name, PlaceName.Kind.JURISDICTION, level, "jurisdictions", code, x, y, _bbox(box), name_en))
    for name, kind, code, jurisdiction_code, name_en in subcenters:
        x, y, box = where[jurisdiction_code]
        names.append(_row(name, PlaceName.Kind.SUBCENTER, kind, "subcenters", code, x, y, box, name_en))
    return _replace(["jurisdictions", "subcenters"], names)


def placenames_refresh_layer(*, layer: Layer) -> int:
    """Replace the names of one layer's features; return how many."""
    with connection.cursor() as cursor:
        cursor.execute(sql.LAYER_NAMES, [layer.id])
        rows = cursor.fetchall()
    source = f"layer:{layer.name}"
    names = [
        _row(name, PlaceName.Kind.FEATURE, layer.name, source, key, x, y, _bbox(box))
        for name, key, x, y, *box in rows
    ]
    return _replace([source], names)


def placenames_add(*, names: list[tuple]) -> int:
    """Add names given as (name, kind, detail, source, key, lon, lat) (the benchmark's synthetic ones)."""
    return _replace([], [_row(*name, None) for name in names])


def _bbox(box):
    if box[0] is None or (box[0] == box[2] and box[1] == box[3]):
        return None
    return [round(v, 7) for v in box]


def _row(name, kind, detail, source, key, x, y, bbox, *others):
    point = f"SRID=4326;POINT({x!r} {y!r})"
    bbox_json = None if bbox is None else "[" + ",".join(repr(v) for v in bbox) + "]"
    return (name, kind, detail or "", source, key or "", point, bbox_json, search_keys(name, *others), WEIGHTS[kind])


def _replace(sources, rows) -> int:
    """Delete the names of `sources`, then add `rows` and their word beginnings, by COPY."""
    with connection.cursor() as cursor:
        if sources:
            cursor.execute(sql.PLACEPREFIXES_DELETE, [sources])
            cursor.execute(sql.PLACENAMES_DELETE, [sources])
        if not rows:
            return 0
        cursor.execute(sql.PLACENAME_IDS, [len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(sql.PLACENAMES_COPY) as copy:
            for placename_id, row in zip(ids, rows, strict=True):
                copy.write_row((placename_id, *row))
        with cursor.cursor.copy(sql.PLACEPREFIXES_COPY) as copy:
            for placename_id, row in zip(ids, rows, strict=True):
                for prefix, whole in prefixes(row[7]).items():
                    copy.write_row((placename_id, prefix, whole, row[8], min(len(row[0]), 32767)))
    return len(rows)


def prefixes(keys: str) -> dict[str, bool]:
    """Return the beginnings (2 to MAX_PREFIX letters) of the words of `keys`, each with "is the whole word"."""
    found = {}
    for word in keys.split():
        if _HAN.search(word):
            continue  # Chinese queries are matched by their pinyin
        for length in range(MIN_QUERY_KEYS, min(len(word), MAX_PREFIX) + 1):
            prefix = word[:length]
            found[prefix] = found.get(prefix, False) or length == len(word)
    return found
