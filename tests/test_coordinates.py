"""geo.coordinates: coordinates as callers give them, read or refused, never guessed (no database)."""

import pytest

from geo.coordinates import Candidate, CoordinateError, parse
from geo.gcj02 import gcj02_to_wgs84


def points(text):
    return [(c.lon, c.lat) for c in parse(text)]


@pytest.mark.parametrize("text", ["100.08,23.88", "100.08, 23.88", "100.08 23.88", "100.08;23.88", "100.08，23.88"])
def test_lon_lat_with_any_separator(text):
    assert parse(text) == [Candidate(100.08, 23.88, "lon,lat")]


@pytest.mark.parametrize("text", ["23.88,100.08", "23.88 100.08", "-23.88, -100.08"])
def test_lat_lon_is_recognised_when_only_one_reading_is_valid(text):
    (candidate,) = parse(text)
    assert candidate.reading == "lat,lon" and abs(candidate.lon) == 100.08


def test_both_readings_when_both_are_valid():
    assert points("9.5209,47.141") == [(9.5209, 47.141), (47.141, 9.5209)]
    assert [c.reading for c in parse("9.5209 47.141")] == ["lon,lat", "lat,lon"]


def test_the_same_number_twice_is_one_point():
    assert points("10,10") == [(10.0, 10.0)]


@pytest.mark.parametrize("text,expected", [
    ("23°53'10\"N 100°05'20\"E", (100.0888889, 23.8861111)),
    ("23°53′10″N, 100°05′20″E", (100.0888889, 23.8861111)),
    ("N23 53 10 E100 5 20", (100.0888889, 23.8861111)),
    ("100°05'20\"E 23°53'10\"N", (100.0888889, 23.8861111)),
    ("北纬23°53′10″ 东经100°05′20″", (100.0888889, 23.8861111)),
    ("23.88N 100.08E", (100.08, 23.88)),
    ("33°52'S 151°12'E", (151.2, -33.8666667)),
    ("47°8'28\"N 9°31'15\"E", (9.5208333, 47.1411111)),
    ("40°26′46″N 79°58′56″W", (-79.9822222, 40.4461111)),
])
def test_degrees_minutes_seconds(text, expected):
    assert points(text) == [expected]


def test_a_marked_gcj02_pair_is_converted_with_the_projects_converter():
    lon, lat = gcj02_to_wgs84(100.08, 23.88)
    (candidate,) = parse("gcj02:100.08,23.88")
    assert (candidate.lon, candidate.lat) == (round(float(lon), 7), round(float(lat), 7))
    assert candidate.datum == "gcj02"
    assert parse("GCJ-02: 23.88, 100.08")[0].lon == candidate.lon  # the order is read by range here too


def test_gcj02_is_shifted_by_hundreds_of_meters_in_china_and_not_outside():
    (shifted,) = parse("gcj02:100.08,23.88")
    assert 0.001 < abs(shifted.lon - 100.08) < 0.01
    (outside,) = parse("gcj02:-120.0,40.0")
    assert (outside.lon, outside.lat) == (-120.0, 40.0)


@pytest.mark.parametrize("url", [
    "https://uri.amap.com/marker?position=100.08,23.88&name=bridge",
    "https://m.amap.com/share/index/?location=100.08,23.88&name=x",
    "http://apis.map.qq.com/uri/v1/marker?location=100.08,23.88",
])
def test_a_share_link_with_location_is_a_gcj02_point(url):
    (candidate,) = parse(url)
    assert candidate.datum == "gcj02" and candidate.lon == parse("gcj02:100.08,23.88")[0].lon


def test_wgs84_marked_is_kept_as_given():
    assert points("wgs84:100.08,23.88") == [(100.08, 23.88)]


@pytest.mark.parametrize("text", ["Vaduz", "凤庆县", "110", "Route 66", "Rheinstrasse 5", "lc", ""])
def test_names_are_not_coordinates(text):
    assert parse(text) is None


@pytest.mark.parametrize("text,complaint", [
    ("181,23", "first number 181.0 is out of range (-180..180)"),
    ("23,-181", "second number -181.0 is out of range"),
    ("95,95", "neither 95.0 nor 95.0 can be a latitude"),
    ("12.5", "coordinates need two numbers, longitude and latitude; got 1"),
    ("1.5 2.5 3.5", "coordinates need two numbers, longitude and latitude; got 3"),
    ("23°61'N 100°E", "minutes and seconds must be under 60"),
    ("23°10'70\"N 100°E", "minutes and seconds must be under 60"),
    ("91°N 100°E", "latitude 91.0 is out of range (0..90)"),
    ("23N 24N", "one coordinate must be N/S (latitude) and the other E/W (longitude); got two N/S values"),
    ("23°53'N", "one coordinate must be N/S"),
    ("23°53' 100°05'", "each value needs N, S, E or W"),
    ("gcj02:", "nothing after gcj02"),
    ("gcj02:abc", "coordinates need two numbers"),
    ("https://surl.amap.com/abc", "a short link cannot be opened offline"),
    ("https://uri.amap.com/marker?position=200,23.88", "longitude 200.0 is out of range"),
])
def test_bad_coordinates_are_refused_with_what_is_wrong(text, complaint):
    with pytest.raises(CoordinateError) as refused:
        parse(text)
    assert complaint in str(refused.value)
