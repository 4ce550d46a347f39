"""Place search: names of the base map and of our own data, Chinese by characters, pinyin and
initials, Latin without accents, ranked by match and distance; coordinates in every accepted
form; reverse lookup; earlier incidents' addresses within the caller's scope."""

import pytest

from geo.gazetteer import query_keys, search_keys
from geo.models import PlaceName

pytestmark = pytest.mark.usefixtures("clean_after_module")  # it commits the sample city and a base map

VADUZ = (9.5209, 47.1410)
FENGQING = (99.95, 24.6)


@pytest.fixture
def reader(liechtenstein, cast, client):
    """The dispatcher, signed in; the Liechtenstein base map and the sample city (临沧市) loaded."""
    client.force_login(cast.dispatcher)
    return client


def search(client, q, **params):
    response = client.get("/api/v1/places", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def first(client, q, **params):
    results = search(client, q, **params)["results"]
    assert results, f"nothing found for {q!r}"
    return results[0]


def test_search_keys_hold_the_name_without_accents_its_pinyin_and_initials():
    assert search_keys("Sassfürkle") == "sassfurkle"
    assert search_keys("凤庆县", "Fengqing County") == "凤庆县 fengqingxian fqx fengqing county"
    assert query_keys("临沧") == "lincang"


@pytest.mark.parametrize("typed,found", [
    ("Vaduz", "Vaduz"), ("vaduz", "Vaduz"), ("Vad", "Vaduz"), ("vadu", "Vaduz"),
    ("Schaan", "Schaan"), ("scha", "Schaan"), ("Triesen", "Triesen"), ("tries", "Triesen"),
    ("triesenb", "Triesenberg"), ("sassfurk", "Sassfürkle"),
])
def test_liechtenstein_places_come_first_from_partial_input(reader, typed, found):
    best = first(reader, typed)
    assert (best["name"], best["kind"], best["source"]) == (found, "place", "basemap")


def test_a_street_is_found_once_with_its_extent(reader):
    results = search(reader, "Äulestrasse", limit=50)["results"]
    streets = [r for r in results if r["kind"] == "street" and r["name"] == "Äulestrasse"]
    assert len(streets) == 1 and streets[0]["bbox"][0] < streets[0]["bbox"][2]


@pytest.mark.parametrize("typed,found", [
    ("临沧", "临沧市"), ("临沧市", "临沧市"), ("lincang", "临沧市"), ("lc", "临沧市"), ("lcs", "临沧市"),
    ("凤庆", "凤庆县"), ("fengqing", "凤庆县"), ("fqx", "凤庆县"), ("耿马", "耿马傣族佤族自治县"),
])
def test_chinese_names_are_found_by_characters_pinyin_and_initials(reader, typed, found):
    best = first(reader, typed)
    assert best["name"] == found and best["kind"] == "jurisdiction"


def test_sub_centers_are_found_too(reader):
    found = {(r["name"], r["kind"]) for r in search(reader, "凤庆县水务", limit=50)["results"]}
    assert ("凤庆县水务局", "subcenter") in found


def test_of_streets_with_one_name_the_nearest_comes_first(reader):
    streets = [r for r in search(reader, "Rheinstrasse", limit=20)["results"] if r["name"] == "Rheinstrasse"]
    assert len(streets) == 5  # five separate streets of that name in Liechtenstein
    for street in streets:
        lon, lat = street["location"]["coordinates"]
        best = first(reader, "Rheinstrasse", near=f"{lon},{lat}")
        assert best["location"] == street["location"] and best["distance_m"] == 0


def test_an_earlier_incidents_address_is_found_within_the_callers_scope(reader, cast, terminals_online, client):
    from dispatch import services

    services.incident_report(actor=cast.dispatcher, category="flood", severity=4, lon=FENGQING[0], lat=FENGQING[1],
                             title="积水", address="凤山镇滨河路12号")
    found = search(reader, "滨河路")["results"]
    assert found[0]["kind"] == "incident_address" and found[0]["name"] == "凤山镇滨河路12号"
    client.force_login(cast.health_op)  # an operator sees only incidents with a ticket for their sub-center
    assert all(r["kind"] != "incident_address" for r in search(client, "滨河路")["results"])


def test_layer_features_feed_the_search(reader):
    seat = PlaceName.objects.filter(source="layer:county_seats").first()
    found = search(reader, seat.name, limit=50)["results"]
    assert any(r["source"] == "layer:county_seats" and r["kind"] == "feature" and r["name"] == seat.name for r in found)


# ---- coordinates --------------------------------------------------------------------------


def test_lon_lat_and_lat_lon_are_told_apart_by_range(reader):
    for typed in ("100.08,23.88", "23.88, 100.08", "23.88 100.08"):
        body = search(reader, typed)
        assert body["coordinates"] and not body["ambiguous"]
        assert body["results"][0]["location"]["coordinates"] == [100.08, 23.88]


def test_an_ambiguous_pair_is_answered_with_both_readings_and_a_question(reader):
    body = search(reader, "9.5209,47.141")
    assert body["ambiguous"] and "Which" not in body["question"] and "?" in body["question"]
    points = [r["location"]["coordinates"] for r in body["results"]]
    assert points == [[9.5209, 47.141], [47.141, 9.5209]]
    assert body["results"][0]["address"]["place"]["name"] == "Vaduz"  # what each reading would be
    assert body["results"][1]["address"]["place"] is None


def test_degrees_minutes_seconds_are_read(reader):
    body = search(reader, "23°53'10\"N 100°05'20\"E")
    lon, lat = body["results"][0]["location"]["coordinates"]
    assert (round(lon, 6), round(lat, 6)) == (100.088889, 23.886111) and not body["ambiguous"]


def test_a_gcj02_pair_and_an_amap_link_are_converted_to_wgs84(reader):
    from geo.gcj02 import gcj02_to_wgs84

    expected = [round(float(v), 7) for v in gcj02_to_wgs84(100.08, 23.88)]
    for typed in ("gcj02:100.08,23.88", "https://uri.amap.com/marker?position=100.08,23.88&name=x"):
        result = search(reader, typed)["results"][0]
        assert result["location"]["coordinates"] == expected and result["source"] == "gcj02"


@pytest.mark.parametrize("typed,complaint", [
    ("200,23", "first number 200.0 is out of range"),
    ("95,95", "neither 95.0 nor 95.0 can be a latitude"),
    ("23°61'N 100°E", "minutes and seconds must be under 60"),
    ("23N 24N", "one coordinate must be N/S"),
    ("12.5", "coordinates need two numbers"),
    ("https://surl.amap.com/abc", "no location=lon,lat"),
])
def test_bad_coordinates_are_refused_naming_what_is_wrong(reader, typed, complaint):
    response = reader.get("/api/v1/places", {"q": typed})
    assert response.status_code == 400
    assert complaint in response.json()["errors"]["q"][0]


def test_search_needs_a_login(liechtenstein, db, client):
    assert client.get("/api/v1/places", {"q": "Vaduz"}).status_code in (401, 403)


# ---- reverse lookup ---------------------------------------------------------------------------


def test_reverse_names_the_nearest_road_and_place(reader):
    body = reader.get("/api/v1/reverse", {"lon": VADUZ[0], "lat": VADUZ[1]}).json()
    assert body["place"]["name"] == "Vaduz" and body["road"]["name"]
    assert body["road"]["distance_m"] <= 500 and body["county"] is None


def test_reverse_names_the_county_in_the_sample_city(reader):
    body = reader.get("/api/v1/reverse", {"lon": FENGQING[0], "lat": FENGQING[1]}).json()
    assert body["county"] == {"code": "530921", "name": "凤庆县"} and body["road"] is None


def test_a_reported_incident_keeps_what_was_at_its_location(reader, cast, terminals_online):
    response = reader.post("/api/v1/incidents", {
        "category": "flood", "severity": 4, "title": "积水",
        "location": {"type": "Point", "coordinates": list(FENGQING)},
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["incident"]["place"]["county"]["name"] == "凤庆县"
