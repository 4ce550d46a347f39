"""Logins that cannot be walked around, and API tokens kept as credentials (issue #12, parts 2 and 3).

Lockouts are django-axes' rows in the real database; addresses and cross-process revocation are
checked through real Daphne processes, as an outside tester would.
"""

import asyncio
import hashlib
import ipaddress
import json
import os
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
import websockets
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import token_issue
from config.processes import daphne_command, daphne_proxy_options, free_port, print_welcome, wait_listening
from config.proxy import client_address
from config.supervisor_conf import config_text
from dispatch.errors import Invalid
from dispatch.management.commands.load_sample_city import ensure_demo_users
from dispatch.services import user_add
from tests.conftest import ROOT, password_of
from tests.second_factor import verified_login
from tests.test_live_stream import database_url_for_tests
from tests.test_stream import communicator

API = "/api/v1"
LIMIT = 5  # AXES_FAILURE_LIMIT's default: the 5th failure is already answered 429
REVOKED_WITHIN_S = 1.5  # TOKEN_RECHECK_S (1 s) plus a request's time on a busy machine


@pytest.fixture(autouse=True)
def fresh_throttles():
    """DRF's per-minute login throttles live in this process's cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


# ---- the client's address ----------------------------------------------------------------

NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "127.0.0.1/32")]


@pytest.mark.parametrize(("peer", "header", "expected"), [
    ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # an untrusted peer's header is ignored
    ("127.0.0.1", "", "127.0.0.1"),
    ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client wrote the leftmost entry
    ("127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),  # through two trusted hops
    ("127.0.0.1", "10.1.2.3", "10.1.2.3"),  # all trusted: the farthest one
    ("127.0.0.1", "6.6.6.6, not-an-address", "127.0.0.1"),  # a garbled hop: nothing past it
])
def test_the_forwarded_address_is_believed_only_from_trusted_hops(peer, header, expected):
    assert client_address(peer, header, NETS) == expected


def test_daphne_never_rewrites_the_address_itself_and_a_bad_list_stops_start_up():
    assert daphne_proxy_options({}) == [] and daphne_proxy_options({"TRUSTED_PROXIES": "10.0.0.0/8"}) == []
    assert "--proxy-headers" not in config_text({"TRUSTED_PROXIES": "10.0.0.1"})
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        daphne_proxy_options({"TRUSTED_PROXIES": "10.0.0.0/33"})


# ---- real Daphne processes -----------------------------------------------------------------

def start_daphne(tmp_path_factory, **extra_env):
    env = dict(os.environ, DATABASE_URL=database_url_for_tests(), CHANNEL_LAYER_PREFIX=f"gdlogin{os.getpid()}",
               PYTHONPATH=str(ROOT), **extra_env)
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / f"daphne-{port}.log"
    process = subprocess.Popen(daphne_command(port, *daphne_proxy_options(env)), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    wait_listening(port, process, log)
    return port, process


@pytest.fixture(scope="module")
def daphnes(django_db_setup, django_db_blocker, tmp_path_factory):
    """Three processes on the test database: two as deployed with no proxy, one behind a trusted proxy (us)."""
    with django_db_blocker.unblock():
        connection.close()
    started = {
        "a": start_daphne(tmp_path_factory), "b": start_daphne(tmp_path_factory),
        "proxied": start_daphne(tmp_path_factory, TRUSTED_PROXIES="127.0.0.1"),
    }
    yield {name: port for name, (port, _) in started.items()}
    for _, process in started.values():
        process.terminate()
    for _, process in started.values():
        process.wait(timeout=10)


def wrong_password(port, username, forwarded_for):
    return httpx.post(f"http://127.0.0.1:{port}{API}/auth/token", json={"username": username, "password": "wrong-one"},
                      headers={"X-Forwarded-For": forwarded_for}, timeout=10)


def assert_locked(response):
    assert response.status_code == 429, response.text
    assert list(response.json()["errors"]) == ["detail"]
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60


@pytest.mark.django_db(transaction=True)
def test_a_rotated_forwarded_for_does_not_walk_around_the_lockout(daphnes):
    # Before issue #12 all 25 answered 400: Daphne took each request's address from the header.
    answers = [wrong_password(daphnes["a"], f"guess-{i}", f"198.51.100.{i}") for i in range(25)]
    assert [r.status_code for r in answers[:LIMIT - 1]] == [400] * (LIMIT - 1)
    for response in answers[LIMIT - 1:]:
        assert_locked(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.django_db(transaction=True)
def test_a_trusted_proxys_forwarded_address_is_honoured(daphnes):
    port = daphnes["proxied"]
    answers = [wrong_password(port, f"spray-{i}", "198.51.100.9") for i in range(LIMIT)]
    assert [r.status_code for r in answers] == [400] * (LIMIT - 1) + [429]
    assert_locked(wrong_password(port, "spray-next", "6.6.6.6, 198.51.100.9"))  # a forged leftmost entry changes nothing
    assert wrong_password(port, "someone-else", "203.0.113.7").status_code == 400  # another client is not locked
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.9", "203.0.113.7"}


def api_status(port, secret):
    return httpx.get(f"http://127.0.0.1:{port}{API}/categories", headers={"Authorization": f"Token {secret}"},
                     timeout=10).status_code


def seconds_until_refused(port, secret):
    """Return how long the process at `port` kept accepting the token (polled every 50 ms, 5 s at most)."""
    start = time.monotonic()
    while time.monotonic() - start < 5:
        if api_status(port, secret) == 401:
            return time.monotonic() - start
        time.sleep(0.05)
    return float("inf")


@pytest.mark.django_db(transaction=True)
def test_revocation_password_change_and_deactivation_reach_another_process_at_once(daphnes, cast):
    a, b = daphnes["a"], daphnes["b"]
    revoked, repassworded = token_issue(user=cast.dispatcher)[1], token_issue(user=cast.leader)[1]
    for secret in (revoked, repassworded):
        assert api_status(a, secret) == api_status(b, secret) == 200  # now in both processes' caches
    response = httpx.delete(f"http://127.0.0.1:{a}{API}/auth/token", headers={"Authorization": f"Token {revoked}"})
    assert response.status_code == 204 and api_status(a, revoked) == 401
    assert seconds_until_refused(b, revoked) < REVOKED_WITHIN_S
    cast.leader.set_password("a-new-password-2026")
    cast.leader.save()
    assert max(seconds_until_refused(a, repassworded), seconds_until_refused(b, repassworded)) < REVOKED_WITHIN_S


def deactivate(user_id):
    try:
        get_user_model().objects.filter(pk=user_id).update(is_active=False)
    finally:
        connection.close()  # this worker thread's own connection, so the test database can be dropped


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_users_stream_and_calls_are_refused_within_a_second(daphnes, cast):
    port, secret = daphnes["b"], token_issue(user=cast.water_op)[1]
    assert api_status(port, secret) == 200

    async def scenario():
        url = f"ws://127.0.0.1:{port}/ws/v1/stream"
        async with websockets.connect(url, additional_headers={"Authorization": f"Token {secret}"}) as ws:
            assert [json.loads(await ws.recv())["type"] for _ in range(2)] == ["hello", "snapshot"]
            await asyncio.to_thread(deactivate, cast.water_op.pk)
            await asyncio.sleep(1.1)
            await ws.send(json.dumps({"type": "ping", "ref": "p"}))
            frames = []
            with pytest.raises(websockets.ConnectionClosedError):  # closed with 4401, not a normal closure
                async for raw in ws:
                    frames.append(json.loads(raw))
            assert frames[-1]["type"] == "error" and ws.close_code == 4401
        assert await asyncio.to_thread(seconds_until_refused, port, secret) < REVOKED_WITHIN_S

    asyncio.run(asyncio.wait_for(scenario(), 20))


# ---- lockout on the pages, and unlocking -------------------------------------------------

def page_login(client, path, username, password):
    return client.post(path, {"username": username, "password": password})


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_login_pages_lock_out_with_a_readable_429(client, cast, path):
    for _ in range(LIMIT - 1):
        assert page_login(client, path, "t-admin", "not-the-password").status_code == 200  # the form again
    assert page_login(client, path, "t-admin", "not-the-password").status_code == 429
    response = page_login(client, path, "t-admin", password_of("t-admin"))  # even the right password now
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 15 * 60
    assert "Too many failed logins" in response.content.decode() or "登录失败次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_account_is_locked_whichever_address_guesses(cast):
    api = APIClient()
    for i in range(LIMIT):
        api.post(f"{API}/auth/token", {"username": "t-dispatcher", "password": "nope"}, format="json",
                 REMOTE_ADDR=f"192.0.2.{i}")
    assert_locked(api.post(f"{API}/auth/token", {"username": "t-dispatcher", "password": password_of("t-dispatcher")},
                           format="json", REMOTE_ADDR="192.0.2.200"))


@pytest.mark.django_db
def test_an_admin_unlocks_and_the_user_logs_in(client, cast):
    for _ in range(LIMIT):
        page_login(client, "/login/", "t-leader", "not-the-password")
    assert page_login(client, "/login/", "t-leader", password_of("t-leader")).status_code == 429
    admin = APIClient()
    verified_login(admin, cast.admin)
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    unlock = admin.post("/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert unlock.status_code == 302 and not AccessAttempt.objects.exists()
    assert page_login(client, "/login/", "t-leader", password_of("t-leader")).status_code == 302
    assert client.session["_auth_user_id"] == str(cast.leader.pk)


@pytest.mark.django_db
def test_the_unlock_command_lifts_an_api_lockout(cast):
    api = APIClient()
    for _ in range(LIMIT):
        api.post(f"{API}/auth/token", {"username": "t-leader", "password": "nope"}, format="json")
    good = {"username": "t-leader", "password": password_of("t-leader")}
    assert_locked(api.post(f"{API}/auth/token", good, format="json"))
    call_command("axes_reset_username", "t-leader", stdout=open(os.devnull, "w"))
    assert api.post(f"{API}/auth/token", good, format="json").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_streams_token_check_is_counted_per_address(cast, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    async def close_code(secret):
        ws = communicator(raw_token=secret)
        ws.scope["client"] = ["192.0.2.44", 50000]  # the application reads its scope once connected
        await ws.connect()
        await ws.receive_from()  # the error frame
        code = (await ws.receive_output())["code"]
        await ws.disconnect()
        return code

    async def scenario(good):
        assert [await close_code(f"guess-{i}") for i in range(LIMIT)] == [4401] * (LIMIT - 1) + [4429]
        return await close_code(good)

    assert async_to_sync(scenario)(token_issue(user=cast.dispatcher)[1]) == 4429


# ---- tokens as credentials -----------------------------------------------------------------

def get_token(username):
    response = APIClient().post(f"{API}/auth/token", {"username": username, "password": password_of(username)},
                                format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_token(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.mark.django_db
def test_a_token_is_shown_once_and_the_database_keeps_only_its_digest(cast):
    first, second = get_token("t-dispatcher"), get_token("t-dispatcher")
    assert first["token"] != second["token"]  # a new one each time: nothing can show the old one again
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        stored = repr(cursor.fetchall())
    assert first["token"] not in stored and second["token"] not in stored
    assert ApiToken.objects.filter(digest=hashlib.sha256(first["token"].encode()).hexdigest()).exists()
    expires_at = timezone.datetime.fromisoformat(first["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires_at - timezone.now() <= timedelta(hours=12)
    assert with_token(first["token"]).get(f"{API}/categories").status_code == 200


@pytest.mark.django_db
def test_an_expired_token_is_refused_with_401_even_from_the_cache(cast, settings):
    settings.TOKEN_TTL = 1
    client = with_token(get_token("t-dispatcher")["token"])
    assert client.get(f"{API}/categories").status_code == 200  # cached from here on
    time.sleep(1.1)
    response = client.get(f"{API}/categories")
    assert response.status_code == 401 and list(response.json()["errors"]) == ["detail"]
    client = with_token(get_token("t-dispatcher")["token"])
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # and never cached
    assert client.get(f"{API}/categories").status_code == 401


@pytest.mark.django_db
def test_a_caller_revokes_its_own_token_and_a_session_has_none_to_revoke(cast):
    client = with_token(get_token("t-leader")["token"])
    assert client.delete(f"{API}/auth/token").status_code == 204
    assert client.get(f"{API}/dashboard").status_code == 401
    browser = APIClient()
    browser.force_login(cast.leader)
    assert browser.delete(f"{API}/auth/token").status_code == 400
    assert APIClient().delete(f"{API}/auth/token").status_code == 401


@pytest.mark.django_db
def test_device_tokens_are_issued_listed_and_revoked_by_command(cast, capsys):
    call_command("device_token", "issue", "t-water", "--name", "water desk 2")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(kind="device")
    assert (token.user, token.subcenter.code, token.expires_at) == (cast.water_op, "530921-water", None)
    assert with_token(secret).get(f"{API}/tickets").status_code == 200
    call_command("device_token", "list")
    assert f"{token.pk}\t{secret[:8]}…\tt-water\t530921-water\twater desk 2\tlive" in capsys.readouterr().out
    call_command("device_token", "revoke", str(token.pk))
    assert with_token(secret).get(f"{API}/tickets").status_code == 401
    with pytest.raises(CommandError, match="not one"):
        call_command("device_token", "issue", "t-dispatcher")


@pytest.mark.django_db
def test_an_admin_issues_a_device_token_sees_it_once_and_revokes_it(cast):
    admin = APIClient()
    verified_login(admin, cast.admin)
    response = admin.post("/admin/api/apitoken/add/", {"user": cast.water_op.pk, "name": "terminal 3"}, follow=True)
    (message,) = [m.message for m in response.context["messages"] if "Device token" in m.message]
    secret = message.split(": ")[1].split(" — ")[0]
    assert with_token(secret).get(f"{API}/tickets").status_code == 200
    token = ApiToken.objects.get(kind="device")
    assert secret not in admin.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    admin.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert with_token(secret).get(f"{API}/tickets").status_code == 401
    refused = admin.post("/admin/api/apitoken/add/", {"user": cast.dispatcher.pk, "name": "x"})
    assert refused.status_code == 200 and not ApiToken.objects.filter(user=cast.dispatcher).exists()


# ---- passwords and sessions ----------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short-1", "1234567890123", "password123", "t-someone-2"])
def test_a_weak_password_is_refused_naming_the_field(sample_city, password):
    with pytest.raises(Invalid) as refused:
        user_add(username="t-someone-2", role="dispatcher", password=password)
    assert list(refused.value.errors) == ["password"]


@pytest.mark.django_db
def test_demo_passwords_pass_the_validators_and_reach_only_a_private_file(sample_city, tmp_path, capsys):
    logins = tmp_path / "demo_logins.json"
    ensure_demo_users(logins)
    rows = json.loads(logins.read_text())
    assert len(rows) == 51 and oct(logins.stat().st_mode & 0o777) == "0o600"
    print_welcome({"DJANGO_DEMO_DIR": str(tmp_path)})
    out = capsys.readouterr().out
    assert str(logins) in out and not any(row["password"] in out for row in rows)


@pytest.mark.django_db
def test_an_idle_session_ends_and_a_busy_one_does_not(client, cast, settings):
    settings.SESSION_COOKIE_AGE = 1
    assert page_login(client, "/login/", "t-dispatcher", password_of("t-dispatcher")).status_code == 302
    for _ in range(3):  # 1.8 s in all, never 1 s idle
        time.sleep(0.6)
        assert client.get("/console/").status_code == 200
    time.sleep(1.2)
    assert client.get("/console/")["Location"].startswith("/login/")

