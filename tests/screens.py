"""What the browser tests share: live Daphne processes, Chromium, one person's screen, small helpers.

Tests run real Daphne processes on loopback against the test database and drive Debian's Chromium
through Playwright (tests/browser.py); fixtures `servers` and `browser` come from here.
"""

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from playwright.sync_api import expect

from api.tokens import token_issue
from config.processes import daphne_command, free_port, wait_listening
from tests.conftest import ROOT
from tests.second_factor import give_second_factor, recovery_code
from tests.test_live_stream import database_url_for_tests

FENGQING = [99.95, 24.6]  # inside 凤庆县 (530921): a level IV flood goes to 530921-water
TIMEOUT_MS = 15_000
SCREENSHOTS = ROOT / "docs" / "screenshots"


def screenshots_to(tmp_path):
    """Where the README's screenshots go: docs/screenshots when GEODISPATCH_SCREENSHOTS=1 asks to retake them."""
    return SCREENSHOTS if os.environ.get("GEODISPATCH_SCREENSHOTS") == "1" else tmp_path
LOCALE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
CATALOGS = ("django", "djangojs")


# ---- live servers ----------------------------------------------------------------------


class Servers:
    """Daphne processes on loopback, each restartable on its own port."""

    def __init__(self, tmp_path):
        connection.close()  # the processes must see committed data only
        self.tmp_path = tmp_path
        self.env = dict(
            os.environ, DATABASE_URL=database_url_for_tests(), CHANNEL_LAYER_PREFIX=f"gdscreens{os.getpid()}",
            PYTHONPATH=str(ROOT), HEARTBEAT_S="2",
        )
        self.processes = {}

    def start(self, port=None):
        port = port or free_port()
        log = self.tmp_path / f"daphne-{port}.log"
        process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
        self.processes[port] = process
        wait_listening(port, process, log)
        return port

    def stop(self, port):
        process = self.processes.pop(port)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self):
        for port in list(self.processes):
            self.stop(port)


def login_passwords(cast):
    """Give the cast passwords the Daphne processes can check (the test process hashes with MD5)."""
    hasher = PBKDF2PasswordHasher()
    for name in ("dispatcher", "leader", "admin", "water_op", "water_op2", "health_op"):
        user = getattr(cast, name)
        user.password = hasher.encode("pw-" + user.username, hasher.salt(), iterations=1000)
        user.save(update_fields=["password"])
    give_second_factor(cast.admin)  # the admin's second factor: the page asks for a recovery code (Screen.login)


class Screen:
    """One person's browser context and page, recording every address the page asks for."""

    def __init__(self, browser, base, locale="en-US"):
        self.base = base
        self.context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.requests, self.errors = [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def login(self, username, password, lands_on):
        self.page.goto(self.base + "/")
        expect(self.page).to_have_url(re.compile(r"/login/"))
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.press("input[name=password]", "Enter")
        expect(self.page).not_to_have_url(re.compile(r"/login/(\?|$)"))
        if "/login/2fa/" in self.page.url:  # a role that must have two factors: a real recovery code, typed in
            code = orm(lambda: recovery_code(username))
            self.page.wait_for_load_state()
            self.page.fill("input[name=otp]", code)
            self.page.click("#verify")
        expect(self.page).to_have_url(self.base + lands_on, timeout=TIMEOUT_MS)
        self.page.wait_for_selector("body[data-ready=true]")
        return self

    def online(self):
        self.page.wait_for_selector('#conn[data-state="online"]')
        return self

    def foreign_requests(self):
        origin = urlsplit(self.base).netloc
        return [url for url in self.requests if not url.startswith("data:") and urlsplit(url).netloc != origin]


def login_as(browser, base, user, lands_on, locale="en-US"):
    return Screen(browser, base, locale).login(user.username, "pw-" + user.username, lands_on).online()


def orm(query):
    """Run an ORM query in a thread of its own: Playwright's sync API keeps an event loop in this one."""

    def run():
        try:
            return query()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def dispatcher_token(cast):
    return orm(lambda: token_issue(user=cast.dispatcher)[1])


def report(port, key, title):
    body = {"category": "flood", "severity": 4, "location": {"type": "Point", "coordinates": FENGQING}, "title": title}
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/incidents", json=body, headers={"Authorization": f"Token {key}"}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()


def click_map_at(page, lon, lat):
    x, y = page.evaluate(
        """([lon, lat]) => { const p = gdMap.latLngToContainerPoint([lat, lon]);
           const r = gdMap.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""",
        [lon, lat],
    )
    page.mouse.click(x, y)


def ticket_on(page, ticket_id, status):
    return page.wait_for_selector(f'[data-ticket-id="{ticket_id}"][data-status="{status}"]')
