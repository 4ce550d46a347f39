"""Coordinates as callers give them (坐标识别): pure functions, no database.

`parse(text)` returns None when the text is not meant as coordinates (a place name to search),
a list of candidate points when it is, or raises CoordinateError with a message naming what is
wrong: never a guess. Accepted:

- two decimal numbers, `lon,lat` or `lat,lon` (comma, space or semicolon between): a number
  beyond ±90 can only be a longitude; when both readings are valid and differ, both come back
  and the caller asks which (`ambiguous`);
- degrees-minutes-seconds with hemispheres: `23°53'10"N 100°05'20"E`, `N23 53 10 E100 5 20`,
  `北纬23°53′10″ 东经100°05′20″`, decimal degrees with hemispheres `23.88N 100.08E`;
- a GCJ-02 pair, marked: `gcj02:100.08,23.88` (a WeChat or Amap location), or an Amap / WeChat
  share link carrying `location=lon,lat` or `position=lon,lat`: converted to WGS 84 with
  geo.gcj02. `wgs84:` marks a pair as WGS 84 explicitly.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from geo.gcj02 import gcj02_to_wgs84

ERR_RANGE = "{what} {value} is out of range ({limit})"
ERR_BOTH_LON = "neither {a} nor {b} can be a latitude (both are beyond ±90)"
ERR_TWO_NUMBERS = "coordinates need two numbers, longitude and latitude; got {n}"
ERR_DMS = "cannot read {text!r} as degrees-minutes-seconds: {why}"
ERR_HEMISPHERES = "one coordinate must be N/S (latitude) and the other E/W (longitude); got {found}"
ERR_LINK = "no location=lon,lat or position=lon,lat in this link (a short link cannot be opened offline: ask for the coordinates)"
ERR_EMPTY_MARKED = "nothing after {mark}: give lon,lat"

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*(?:[,;，；]\s*|\s+)({_NUMBER})\s*$")
_NUMBERS_ONLY = re.compile(r"^[\d\s.,;，；+-]+$")
_MARK = re.compile(r"^\s*(gcj-?02|wgs-?84)\s*[:：]\s*(.*)$", re.IGNORECASE)
_DMS_SIGNS = re.compile(r"[°º˚′″'\"NSEWnsew北南东西纬经度分秒]")
_CHINESE_HEMISPHERES = {"北纬": "N", "南纬": "S", "东经": "E", "西经": "W"}
_DMS_PART = re.compile(
    r"([NSEW])?\s*(\d+(?:\.\d+)?)\s*[°º˚度]?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*['′分]?\s*)?"
    r"(?:(\d+(?:\.\d+)?)\s*(?:\"|″|''|′′|秒)?\s*)?([NSEW])?",
)


class CoordinateError(ValueError):
    """Text meant as coordinates that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Candidate:
    lon: float
    lat: float
    reading: str  # "lon,lat", "lat,lon", "dms", "gcj02 lon,lat"…
    datum: str = "wgs84"  # the datum the caller gave; lon/lat are always WGS 84


def parse(text: str) -> list[Candidate] | None:
    """Return the candidate WGS 84 points of `text`, or None when it is not coordinates."""
    text = text.strip()
    if re.match(r"^https?://", text, re.IGNORECASE):
        return _from_link(text)
    marked = _MARK.match(text)
    if marked:
        return _marked(marked.group(1).lower().replace("-", ""), marked.group(2))
    pair = _PAIR.match(text)
    if pair:
        return _decimal_pair(float(pair.group(1)), float(pair.group(2)))
    if _looks_like_dms(text):
        return [_dms(text)]
    if _NUMBERS_ONLY.match(text) and ("." in text or len(re.findall(_NUMBER, text)) > 1):
        raise CoordinateError(ERR_TWO_NUMBERS.format(n=len(re.findall(_NUMBER, text))))
    return None


def _decimal_pair(a: float, b: float, datum="wgs84") -> list[Candidate]:
    _check(a, "first number", 180)
    _check(b, "second number", 180)
    readings = []
    if abs(b) <= 90:
        readings.append(Candidate(a, b, "lon,lat", datum))
    if abs(a) <= 90 and a != b:
        readings.append(Candidate(b, a, "lat,lon", datum))
    if not readings:
        raise CoordinateError(ERR_BOTH_LON.format(a=a, b=b))
    return [_to_wgs84(c) for c in readings]


def _check(value, what, limit):
    if abs(value) > limit:
        raise CoordinateError(ERR_RANGE.format(what=what, value=value, limit=f"-{limit}..{limit}"))


def _marked(datum: str, rest: str) -> list[Candidate]:
    if not rest.strip():
        raise CoordinateError(ERR_EMPTY_MARKED.format(mark=datum))
    pair = _PAIR.match(rest)
    if pair:
        return _decimal_pair(float(pair.group(1)), float(pair.group(2)), datum)
    if _looks_like_dms(rest):
        found = _dms(rest)
        return [_to_wgs84(Candidate(found.lon, found.lat, "dms", datum))]
    raise CoordinateError(ERR_TWO_NUMBERS.format(n=len(re.findall(_NUMBER, rest))))


def _from_link(url: str) -> list[Candidate]:
    """Return the point of an Amap or WeChat share link (GCJ-02, lon,lat)."""
    query = parse_qs(urlsplit(url).query)
    for name in ("location", "position"):
        for value in query.get(name, []):
            pair = _PAIR.match(value)
            if pair:
                lon, lat = float(pair.group(1)), float(pair.group(2))
                _check(lon, "longitude", 180)
                _check(lat, "latitude", 90)
                return [_to_wgs84(Candidate(lon, lat, f"link {name}=lon,lat", "gcj02"))]
    raise CoordinateError(ERR_LINK)


def _to_wgs84(candidate: Candidate) -> Candidate:
    if candidate.datum != "gcj02":
        return candidate
    lon, lat = gcj02_to_wgs84(candidate.lon, candidate.lat)
    return Candidate(round(float(lon), 7), round(float(lat), 7), candidate.reading, "gcj02")


# ---- degrees, minutes, seconds ---------------------------------------------------------------


def _looks_like_dms(text: str) -> bool:
    return bool(re.search(r"\d", text)) and bool(_DMS_SIGNS.search(text)) and not re.search(
        r"[A-DF-MO-RT-VX-Za-df-mo-rt-vx-z]", text
    )


def _dms(text: str) -> Candidate:
    normal = text.upper()
    for chinese, letter in _CHINESE_HEMISPHERES.items():
        normal = normal.replace(chinese, letter)
    normal = re.sub(r"[,;，；]", " ", normal).strip()
    values = {}
    position = 0
    while position < len(normal):
        match = _DMS_PART.match(normal, position)
        if not match or match.end() == position:
            raise CoordinateError(ERR_DMS.format(text=text, why=f"unexpected {normal[position:]!r}"))
        hemisphere = match.group(1) or match.group(5)
        # "N23 53 10 E100 5 20": the letter after a prefixed value begins the next value.
        end = match.start(5) if match.group(1) and match.group(5) else match.end()
        if not hemisphere:
            raise CoordinateError(ERR_DMS.format(text=text, why="each value needs N, S, E or W"))
        axis = "lat" if hemisphere in "NS" else "lon"
        if axis in values:
            raise CoordinateError(ERR_HEMISPHERES.format(found=f"two {'N/S' if axis == 'lat' else 'E/W'} values"))
        values[axis] = _degrees(text, match, hemisphere)
        position = end
        while position < len(normal) and normal[position] == " ":
            position += 1
    if set(values) != {"lat", "lon"}:
        raise CoordinateError(ERR_HEMISPHERES.format(found=", ".join(sorted(values)) or "none"))
    return Candidate(values["lon"], values["lat"], "dms")


def _degrees(text, match, hemisphere) -> float:
    degrees, minutes, seconds = (float(g) if g else 0.0 for g in match.group(2, 3, 4))
    if (minutes or seconds) and degrees != int(degrees):
        raise CoordinateError(ERR_DMS.format(text=text, why="decimal degrees followed by minutes"))
    if minutes >= 60 or seconds >= 60:
        raise CoordinateError(ERR_DMS.format(text=text, why="minutes and seconds must be under 60"))
    value = degrees + minutes / 60 + seconds / 3600
    limit = 90 if hemisphere in "NS" else 180
    if value > limit:
        what = "latitude" if hemisphere in "NS" else "longitude"
        raise CoordinateError(ERR_RANGE.format(what=what, value=round(value, 6), limit=f"0..{limit}"))
    return round(-value if hemisphere in "SW" else value, 7)
