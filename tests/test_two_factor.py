"""Two factors for administrators, and for any role in REQUIRE_2FA_ROLES (issue #12, part 4).

Real database, real django-otp devices; codes are computed from the secret as an authenticator app would.
"""

import base64
import re
import time

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.management import call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect, sync_playwright
from rest_framework.test import APIClient

from api import two_factor
from tests.browser import launch_chromium
from tests.conftest import password_of
from tests.second_factor import give_second_factor, totp_code

TOKEN = "/api/v1/auth/token"
ENROL = "/login/2fa/enrol/"
VERIFY = "/login/2fa/"
THROTTLE_S = 1.1  # django-otp's delay after one failed code (1 s, doubling)


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()  # the token endpoint's per-minute throttles live in this process's cache
    yield
    cache.clear()


def password_login(client, user):
    response = client.post("/login/", {"username": user.username, "password": password_of(user.username)})
    assert response.status_code == 302, response.content[:300]
    return response


def enrol(client, user):
    """Log in, enrol through the page; return (TOTP key in hex, recovery codes)."""
    password_login(client, user)
    page = client.get(ENROL).content.decode()
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    response = client.post(ENROL, {"otp": totp_code(key)})
    assert response.status_code == 200
    return key, re.findall(r"<li><code>([0-9a-f]{10})</code></li>", response.content.decode())


def held_back(client, path, target):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith(target), (path, response)


@pytest.mark.django_db
def test_an_admin_without_a_device_enrols_before_anything_else(client, cast):
    password_login(client, cast.admin)
    for path in ("/", "/console/", "/dashboard/", "/admin/", "/admin/auth/user/", "/login/", VERIFY):
        held_back(client, path, ENROL)
    assert client.get("/console/").headers["Location"] == ENROL + "?next=%2Fconsole%2F"
    assert client.get("/api/v1/incidents").status_code == 401  # an unverified session is no login for the API

    page = client.get(ENROL)
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    secret = re.search(r'data-secret="([A-Z2-7]+)"', html).group(1)
    assert re.search(r'<img id="totp-qr" class="qr" src="data:image/svg\+xml', html)
    assert f'data-secret="{secret}"' in client.get(ENROL).content.decode(), "a reload shows the same secret"
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()

    wrong = client.post(ENROL, {"otp": "000000" if totp_code(key) != "000000" else "111111"})
    assert wrong.status_code == 400 and 'id="otp-error"' in wrong.content.decode()
    held_back(client, "/console/", ENROL)

    done = client.post(ENROL, {"otp": totp_code(key), "next": "/console/"})
    codes = re.findall(r"<li><code>([0-9a-f]{10})</code></li>", done.content.decode())
    assert done.status_code == 200 and len(codes) == len(set(codes)) == two_factor.RECOVERY_CODES
    assert 'href="/console/"' in done.content.decode()
    assert client.get("/console/").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/incidents").status_code == 200
    again = client.get(ENROL)  # the codes were shown once: never again
    assert again.status_code == 302 and not any(code in again.content.decode() for code in codes)
    assert all(code not in client.get("/console/").content.decode() for code in codes)
    assert StaticToken.objects.filter(device__user=cast.admin).count() == two_factor.RECOVERY_CODES


@pytest.mark.django_db
def test_the_next_login_asks_for_the_code_and_a_recovery_code_works_once(client, cast):
    key, codes = enrol(client, cast.admin)
    client.post("/logout/")

    password_login(client, cast.admin)
    held_back(client, "/console/", VERIFY + "?next=%2Fconsole%2F")
    held_back(client, "/admin/", VERIFY)
    wrong = client.post(VERIFY, {"otp": "12345", "next": "/console/"})
    assert wrong.status_code == 400 and 'id="otp-error"' in wrong.content.decode()
    assert AccessAttempt.objects.get(username="t-admin").failures_since_start == 1  # counted by the lockout
    time.sleep(THROTTLE_S)
    # The enrolment used this 30 s step's code, and a code is never taken twice: the app's next one.
    right = client.post(VERIFY, {"otp": totp_code(key, steps_ahead=1), "next": "/console/"})
    assert right.status_code == 302 and right.headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    client.post("/logout/")

    password_login(client, cast.admin)
    assert client.post(VERIFY, {"otp": codes[0]}).status_code == 302
    assert client.get("/admin/").status_code == 200
    client.post("/logout/")

    password_login(client, cast.admin)
    reused = client.post(VERIFY, {"otp": codes[0]})
    assert reused.status_code == 400
    held_back(client, "/console/", VERIFY)
    assert StaticToken.objects.filter(device__user=cast.admin).count() == two_factor.RECOVERY_CODES - 1


@pytest.mark.django_db
def test_wrong_codes_lock_the_account_out_like_wrong_passwords(client, cast):
    give_second_factor(cast.admin)
    password_login(client, cast.admin)
    for _ in range(4):
        assert client.post(VERIFY, {"otp": "not-a-code"}).status_code == 400
    locked = client.post(VERIFY, {"otp": "not-a-code"})
    assert locked.status_code == 429 and "Retry-After" in locked
    assert client.get("/console/").status_code == 302  # logged out
    assert client.post("/login/", {"username": "t-admin", "password": password_of("t-admin")}).status_code == 429


@pytest.mark.django_db
def test_the_token_endpoint_wants_otp_from_an_admin(cast):
    api = APIClient()
    credentials = {"username": "t-admin", "password": password_of("t-admin")}
    not_enrolled = api.post(TOKEN, credentials, format="json")
    assert not_enrolled.status_code == 400 and list(not_enrolled.json()["errors"]) == ["otp"]

    device = give_second_factor(cast.admin)
    missing = api.post(TOKEN, credentials, format="json")
    assert missing.status_code == 400 and list(missing.json()["errors"]) == ["otp"]
    assert "otp" in missing.json()["errors"]["otp"][0]
    wrong = api.post(TOKEN, {**credentials, "otp": "000000" if totp_code(device.key) != "000000" else "111111"}, format="json")
    assert wrong.status_code == 400 and list(wrong.json()["errors"]) == ["otp"]
    time.sleep(THROTTLE_S)
    issued = api.post(TOKEN, {**credentials, "otp": totp_code(device.key)}, format="json")
    assert issued.status_code == 200, issued.json()
    api.credentials(HTTP_AUTHORIZATION="Token " + issued.json()["token"])
    assert api.get("/api/v1/incidents").status_code == 200
    replayed = APIClient().post(TOKEN, {**credentials, "otp": totp_code(device.key)}, format="json")
    assert replayed.status_code == 400 and list(replayed.json()["errors"]) == ["otp"]


@pytest.mark.django_db
def test_the_roles_that_must_have_two_factors_are_configurable(client, cast, settings):
    settings.REQUIRE_2FA_ROLES = ["admin", "dispatcher"]
    password_login(client, cast.dispatcher)
    held_back(client, "/console/", ENROL)
    dispatcher = APIClient().post(TOKEN, {"username": "t-dispatcher", "password": password_of("t-dispatcher")}, format="json")
    assert dispatcher.status_code == 400 and list(dispatcher.json()["errors"]) == ["otp"]
    client.post("/logout/")

    password_login(client, cast.water_op)
    assert client.get("/terminal/").status_code == 200
    operator = APIClient().post(TOKEN, {"username": "t-water", "password": password_of("t-water")}, format="json")
    assert operator.status_code == 200

    settings.REQUIRE_2FA_ROLES = []  # nobody: an admin too goes straight on (not the default)
    client.post("/logout/")
    password_login(client, cast.admin)
    assert client.get("/console/").status_code == 200


@pytest.mark.django_db
def test_reset_2fa_sends_the_user_back_to_enrolment(client, cast):
    events = []

    def heard(signal, **kwargs):
        events.append((signal, kwargs["user"].username))

    for signal in (two_factor.two_factor_enrolled, two_factor.two_factor_failed, two_factor.two_factor_reset):
        signal.connect(heard, weak=False)
    try:
        enrol(client, cast.admin)
        assert client.get("/console/").status_code == 200
        client.post(VERIFY, {"otp": "x"})  # verified already: sent on, nothing counted
        call_command("reset_2fa", "t-admin")
        assert not TOTPDevice.objects.filter(user=cast.admin).exists()
        assert not StaticToken.objects.filter(device__user=cast.admin).exists()
        held_back(client, "/console/", ENROL)  # the same session, at its next request
        held_back(client, "/admin/", ENROL)
    finally:
        for signal in (two_factor.two_factor_enrolled, two_factor.two_factor_failed, two_factor.two_factor_reset):
            signal.disconnect(heard)
    assert [(s is two_factor.two_factor_enrolled, s is two_factor.two_factor_reset) for s, _ in events] == [
        (True, False), (False, True)]


@pytest.mark.django_db
def test_an_admin_resets_a_user_s_second_factor_in_the_admin(client, cast):
    give_second_factor(cast.dispatcher)
    enrol(client, cast.admin)
    response = client.post("/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [cast.dispatcher.pk]})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=cast.dispatcher).exists()
    assert TOTPDevice.objects.filter(user=cast.admin).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_enrolment_in_chromium_under_the_csp(live_server, cast):
    violations = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(locale="en-US").new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
        page.goto(live_server.url + "/console/")
        page.fill("input[name=username]", "t-admin")
        page.fill("input[name=password]", password_of("t-admin"))
        page.press("input[name=password]", "Enter")
        expect(page).to_have_url(re.compile(r"/login/2fa/enrol/\?next=%2Fconsole%2F$"))
        assert page.evaluate("document.getElementById('totp-qr').naturalWidth") > 0  # the data: QR code drew
        secret = page.inner_text("#totp-secret").replace(" ", "")
        totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)))
        page.fill("input[name=otp]", f"{totp.token():06d}")
        page.click("#enrol")
        expect(page.locator("#recovery-codes li")).to_have_count(two_factor.RECOVERY_CODES)
        page.click("#continue")
        expect(page).to_have_url(live_server.url + "/console/")
        browser.close()
    assert violations == []
