"""MAP_SOURCES: the base tile services a deployment may draw under our data (docs/OPERATIONS.md, "Base maps").

A JSON list in the environment, each entry
`{"name", "type": "xyz"|"wmts", "url", "subdomains", "key_param", "key", "attribution", "datum"}`
(datum: wgs84, cgcs2000 or gcj02; WMTS also `layer`, `style`, `tilematrixset`, `format`).
MAP_TILE_URL, the older setting, stays one XYZ source named "tiles". A bad entry stops start-up
naming the entry and the field.
"""

import json
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TYPES = ("xyz", "wmts")
DATUMS = ("wgs84", "cgcs2000", "gcj02")
FIELDS = {"name", "type", "url", "subdomains", "key_param", "key", "attribution", "datum",
          "layer", "style", "tilematrixset", "format", "max_zoom"}
LEGACY_NAME = "tiles"


def map_sources(raw: str, tile_url: str = "") -> list[dict]:
    """Return the configured sources, validated, with MAP_TILE_URL as one more XYZ source."""
    try:
        entries = json.loads(raw) if raw.strip() else []
    except json.JSONDecodeError as problem:
        raise ImproperlyConfigured(f"MAP_SOURCES is not valid JSON: {problem}") from None
    if not isinstance(entries, list):
        raise ImproperlyConfigured("MAP_SOURCES must be a JSON list of sources")
    sources = [_source(number, entry) for number, entry in enumerate(entries, start=1)]
    if tile_url and tile_url not in {s["url"] for s in sources}:
        legacy = {"name": LEGACY_NAME, "type": "xyz", "url": tile_url}
        if "{s}" in tile_url:
            legacy["subdomains"] = ["a", "b", "c"]  # Leaflet's default, which MAP_TILE_URL relied on
        sources.append(_source(len(sources) + 1, legacy))
    names = [s["name"] for s in sources]
    if len(set(names)) != len(names):
        raise ImproperlyConfigured(f"MAP_SOURCES: names must be unique, got {', '.join(names)}")
    return sources


def _source(number, entry):
    where = f"MAP_SOURCES entry {number}"
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"{where} must be an object")
    unknown = set(entry) - FIELDS
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    source = {
        "name": _text(where, entry, "name", required=True), "type": entry.get("type", "xyz"),
        "url": _text(where, entry, "url", required=True), "subdomains": _subdomains(where, entry),
        "key_param": _text(where, entry, "key_param"), "key": _text(where, entry, "key"),
        "attribution": _text(where, entry, "attribution"), "datum": entry.get("datum", "wgs84"),
        "max_zoom": entry.get("max_zoom", 18),
    }
    if source["type"] not in TYPES:
        raise ImproperlyConfigured(f"{where}: type must be one of {', '.join(TYPES)}, got {source['type']!r}")
    if source["datum"] not in DATUMS:
        raise ImproperlyConfigured(f"{where}: datum must be one of {', '.join(DATUMS)}, got {source['datum']!r}")
    if urlsplit(source["url"]).scheme not in ("http", "https") or not urlsplit(source["url"]).netloc:
        raise ImproperlyConfigured(f"{where}: url must be an http(s) URL, got {source['url']!r}")
    if bool(source["key_param"]) != bool(source["key"]):
        raise ImproperlyConfigured(f"{where}: key_param and key go together")
    if source["type"] == "wmts":
        source.update({k: _text(where, entry, k) for k in ("layer", "style", "tilematrixset", "format")})
    source["tiles"] = tile_urls(source)
    return source


def _text(where, entry, field, required=False):
    value = entry.get(field, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ImproperlyConfigured(f"{where}: {field} must be a{' non-empty' if required else ''} string")
    return value.strip()


def _subdomains(where, entry):
    value = entry.get("subdomains", [])
    if isinstance(value, str):
        value = list(value) if "," not in value else [v.strip() for v in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ImproperlyConfigured(f"{where}: subdomains must be a list of strings (or a string of letters)")
    return value


def tile_urls(source) -> list[str]:
    """Return the source's tile URL templates: one per subdomain, the key added, WMTS as KVP.

    `{z}/{x}/{y}` are left for the map library; a WMTS URL without them gets the KVP GetTile query.
    """
    url = source["url"]
    if source["type"] == "wmts" and "{z}" not in url and "{TileMatrix}" not in url:
        params = {
            "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": source.get("layer", ""),
            "STYLE": source.get("style") or "default", "TILEMATRIXSET": source.get("tilematrixset", ""),
            "FORMAT": source.get("format") or "tiles", "TILEMATRIX": "{z}", "TILEROW": "{y}", "TILECOL": "{x}",
        }
        url += ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in params.items())
    url = url.replace("{TileMatrix}", "{z}").replace("{TileRow}", "{y}").replace("{TileCol}", "{x}")
    if source["key_param"]:
        url += ("&" if "?" in url else "?") + f"{source['key_param']}={source['key']}"
    if "{s}" in url and source["subdomains"]:
        return [url.replace("{s}", sub) for sub in source["subdomains"]]
    return [url]


def source_origins(sources) -> list[str]:
    """Return the origins (scheme://host:port) the sources' tiles come from, each once."""
    origins = []
    for source in sources:
        for url in source["tiles"]:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins
