"""Convert between WGS 84 and GCJ-02, the offset datum of Chinese web maps (火星坐标).

GCJ-02 is WGS 84 plus a published, deterministic offset (the "Krasovsky" formula
circulated as eviltransform/coordtransform) of about 100–700 m inside mainland
China and none outside a rough bounding box of it (the published formula's rectangle: so
points in, say, Seoul are shifted too, exactly as the map providers shift them). The forward direction is closed-form; the inverse has no
closed form and is solved by fixed-point iteration: start at the GCJ-02 point, apply
the forward offset, step back by the error, repeat until the error is below 1e-9
degrees (about 0.1 mm). Converges in 3–5 steps. All functions take numpy arrays.
"""

import numpy as np
import shapely

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid used by the formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_TOLERANCE_DEG = 1e-9
_MAX_STEPS = 30


def _outside_china(lon, lat):
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset(lon, lat):
    """Return the (dlon, dlat) GCJ-02 offset in degrees at WGS 84 points."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon, lat):
    """Return GCJ-02 (lon, lat) arrays for WGS 84 (lon, lat) arrays."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat):
    """Return WGS 84 (lon, lat) arrays for GCJ-02 (lon, lat) arrays, to about 0.1 mm."""
    gcj_lon, gcj_lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wgs_lon, wgs_lat = gcj_lon.copy(), gcj_lat.copy()
    for _ in range(_MAX_STEPS):
        fwd_lon, fwd_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        err_lon, err_lat = fwd_lon - gcj_lon, fwd_lat - gcj_lat
        wgs_lon, wgs_lat = wgs_lon - err_lon, wgs_lat - err_lat
        if np.all(np.abs(err_lon) < _TOLERANCE_DEG) and np.all(np.abs(err_lat) < _TOLERANCE_DEG):
            break
    return wgs_lon, wgs_lat


def geometry_gcj02_to_wgs84(geometry):
    """Return a Shapely geometry with every vertex converted from GCJ-02 to WGS 84."""

    def convert(coords):
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, convert)
