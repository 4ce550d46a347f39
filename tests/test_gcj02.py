"""WGS 84 ↔ GCJ-02: published reference values, the inverse, and the no-offset zone outside China."""

import numpy as np
import pytest
import shapely

from geo.gcj02 import gcj02_to_wgs84, geometry_gcj02_to_wgs84, wgs84_to_gcj02

# (WGS 84 lon, lat) → (GCJ-02 lon, lat), as published with the eviltransform/coordtransform
# implementations of the formula.
REFERENCE = {
    "shanghai": ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    "shenzhen": ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    "beijing": ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    "tiananmen": ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
}

# The published values carry about 15 significant digits; 1e-9 degrees is about 0.1 mm.
REFERENCE_TOLERANCE_DEG = 1e-9
INVERSE_TOLERANCE_DEG = 1e-7

OUTSIDE_CHINA = {
    "cambridge_ma": (-71.1056, 42.3736),
    "tokyo": (139.69, 35.68),
    "sydney": (151.21, -33.87),
}

METERS_PER_DEGREE_LAT = 111_320.0


def offset_meters(lon, lat, other_lon, other_lat):
    """Return the rough ground distance in meters between two nearby lon/lat points."""
    dx = (other_lon - lon) * METERS_PER_DEGREE_LAT * np.cos(np.radians(lat))
    dy = (other_lat - lat) * METERS_PER_DEGREE_LAT
    return float(np.hypot(dx, dy))


@pytest.mark.parametrize("place", REFERENCE)
def test_wgs84_to_gcj02_matches_published_reference(place):
    (lon, lat), (want_lon, want_lat) = REFERENCE[place]
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert float(gcj_lon) == pytest.approx(want_lon, abs=REFERENCE_TOLERANCE_DEG)
    assert float(gcj_lat) == pytest.approx(want_lat, abs=REFERENCE_TOLERANCE_DEG)


@pytest.mark.parametrize("place", REFERENCE)
def test_gcj02_to_wgs84_recovers_the_reference_wgs84_point(place):
    (want_lon, want_lat), (gcj_lon, gcj_lat) = REFERENCE[place]
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert float(lon) == pytest.approx(want_lon, abs=INVERSE_TOLERANCE_DEG)
    assert float(lat) == pytest.approx(want_lat, abs=INVERSE_TOLERANCE_DEG)


def test_offset_inside_china_is_hundreds_of_meters():
    wgs = np.array([point for point, _ in REFERENCE.values()])
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    for (lon, lat), other_lon, other_lat in zip(wgs, gcj_lon, gcj_lat):
        assert 100 < offset_meters(lon, lat, other_lon, other_lat) < 700


def test_conversion_works_on_arrays_mixing_points_inside_and_outside_china():
    lons = np.array([REFERENCE["beijing"][0][0], OUTSIDE_CHINA["tokyo"][0], REFERENCE["shenzhen"][0][0]])
    lats = np.array([REFERENCE["beijing"][0][1], OUTSIDE_CHINA["tokyo"][1], REFERENCE["shenzhen"][0][1]])
    gcj_lon, gcj_lat = wgs84_to_gcj02(lons, lats)
    assert gcj_lon.shape == (3,)
    assert gcj_lon[0] == pytest.approx(REFERENCE["beijing"][1][0], abs=REFERENCE_TOLERANCE_DEG)
    assert (gcj_lon[1], gcj_lat[1]) == (lons[1], lats[1])
    assert gcj_lat[2] == pytest.approx(REFERENCE["shenzhen"][1][1], abs=REFERENCE_TOLERANCE_DEG)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(back_lon, lons, rtol=0, atol=INVERSE_TOLERANCE_DEG)
    np.testing.assert_allclose(back_lat, lats, rtol=0, atol=INVERSE_TOLERANCE_DEG)


def test_inverse_round_trips_random_points_across_china():
    rng = np.random.default_rng(2878)
    lons, lats = rng.uniform(75.0, 134.0, 2000), rng.uniform(19.0, 53.0, 2000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lons, lats))
    assert np.max(np.abs(back_lon - lons)) < INVERSE_TOLERANCE_DEG
    assert np.max(np.abs(back_lat - lats)) < INVERSE_TOLERANCE_DEG


@pytest.mark.parametrize("place", OUTSIDE_CHINA)
def test_points_outside_china_are_unchanged_both_ways(place):
    lon, lat = OUTSIDE_CHINA[place]
    assert tuple(map(float, wgs84_to_gcj02(lon, lat))) == (lon, lat)
    assert tuple(map(float, gcj02_to_wgs84(lon, lat))) == (lon, lat)


def test_geometry_conversion_moves_every_vertex_to_its_wgs84_position():
    shell = [(116.30, 39.85), (116.50, 39.85), (116.50, 40.00), (116.30, 40.00), (116.30, 39.85)]
    hole = [(116.38, 39.90), (116.42, 39.90), (116.42, 39.94), (116.38, 39.90)]
    island = shapely.Polygon([(121.40, 31.10), (121.60, 31.10), (121.50, 31.25), (121.40, 31.10)])
    geometry = shapely.MultiPolygon([shapely.Polygon(shell, [hole]), island])

    converted = geometry_gcj02_to_wgs84(geometry)

    assert converted.geom_type == "MultiPolygon"
    assert [len(p.interiors) for p in converted.geoms] == [1, 0]
    before, after = shapely.get_coordinates(geometry), shapely.get_coordinates(converted)
    assert before.shape == after.shape
    want_lon, want_lat = gcj02_to_wgs84(before[:, 0], before[:, 1])
    np.testing.assert_array_equal(after, np.column_stack([want_lon, want_lat]))
    moved = [offset_meters(*old, *new) for old, new in zip(before, after)]
    assert min(moved) > 100, "every vertex inside China moves by the GCJ-02 offset"
    forward_lon, forward_lat = wgs84_to_gcj02(after[:, 0], after[:, 1])
    np.testing.assert_allclose(np.column_stack([forward_lon, forward_lat]), before, rtol=0, atol=1e-8)


def test_geometry_conversion_leaves_a_polygon_outside_china_in_place():
    geometry = shapely.box(-71.12, 42.36, -71.10, 42.38)
    assert shapely.equals_exact(geometry_gcj02_to_wgs84(geometry), geometry, tolerance=0)
