"""The three screens in real Chromium against real Daphne, PostGIS and Redis (issue "The three screens").

Console (dispatcher), terminal (operator of 530921-water) and dashboard (leader) run at once in
three browser contexts; the tests drive them the way people would: the login page, clicks, keys.
"""

import gettext
import re

import pytest
from playwright.sync_api import expect

from dispatch.models import Incident, Ticket
from tests.screens import (
    CATALOGS,
    FENGQING,
    LOCALE,
    click_map_at,
    dispatcher_token,
    login_as,
    orm,
    report,
    screenshots_to,
    ticket_on,
)
from tests.second_factor import verified_login

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# ---- the three-way flow ----------------------------------------------------------------


@pytest.mark.parametrize("locale, language", [("zh-CN", "zh"), ("en-US", "en")])
def test_incident_logged_on_the_map_rings_the_terminal_and_moves_the_dashboard(
    servers, browser, cast, tmp_path, locale, language
):
    port = servers.start()
    base = f"http://127.0.0.1:{port}"
    shots = screenshots_to(tmp_path)
    terminal = login_as(browser, base, cast.water_op, "/terminal/", locale=locale)
    leader = login_as(browser, base, cast.leader, "/dashboard/", locale=locale)
    console = login_as(browser, base, cast.dispatcher, "/console/", locale=locale)
    t, d, c = terminal.page, leader.page, console.page

    t.click("#arm")
    t.wait_for_selector('main[data-armed="true"]')
    assert t.get_attribute("main", "data-ringing") == "false"
    open_before = d.evaluate("gdDashboard.dashboard.incidents.open")
    fetches_before = d.evaluate("gdDashboard.fetches")

    # Log the incident by clicking inside 凤庆县; the preview names who will receive it and why.
    click_map_at(c, *FENGQING)
    c.wait_for_selector("#report:not([hidden])")
    c.select_option("select[name=category]", "flood")
    c.select_option("select[name=severity]", "4")
    c.fill("input[name=title]", "河水漫堤 river over its banks")
    c.fill("input[name=reporter_phone]", "13800000000")
    preview = c.wait_for_selector('#route-preview li[data-code="530921-water"]')
    assert "凤庆" in preview.inner_text()
    # A double submit (Enter twice, as an impatient hand would) makes one incident.
    c.evaluate("() => { const f = document.getElementById('report'); f.requestSubmit(); f.requestSubmit(); }")
    c.wait_for_selector("#report", state="hidden")
    incident = orm(lambda: Incident.objects.get(title="河水漫堤 river over its banks"))
    ticket = orm(lambda: Ticket.objects.select_related("subcenter").get(incident=incident))
    assert ticket.subcenter.code == "530921-water"

    # The terminal rings at once, and acknowledges receipt by itself.
    t.wait_for_selector('main[data-ringing="true"]')
    assert t.evaluate("gdAlarm.started") >= 1 and t.evaluate("gdAlarm.oscillator !== null")
    expect(t.locator(f'#tickets [data-ticket-id="{ticket.id}"] .title')).to_have_text("河水漫堤 river over its banks")
    ticket_on(c, ticket.id, "delivered")
    c.wait_for_selector(f'#detail [data-ticket-id="{ticket.id}"] .stages li[data-stage="delivered"].done')
    t.screenshot(path=str(shots / f"terminal-{language}.png"))

    # The operator accepts: the ringing stops; the dispatcher confirms.
    t.click(f'#tickets [data-ticket-id="{ticket.id}"] [data-action="accept"]')
    t.wait_for_selector('main[data-ringing="false"]')
    assert t.evaluate("gdAlarm.oscillator") is None
    c.click(f'#detail [data-ticket-id="{ticket.id}"] [data-action="confirm"]')
    ticket_on(t, ticket.id, "confirmed")
    c.wait_for_selector(f'#detail [data-ticket-id="{ticket.id}"] .stages li[data-stage="confirmed"].done')
    c.screenshot(path=str(shots / f"console-{language}.png"))
    d.wait_for_function("() => gdDashboard.dashboard.incidents.open === %d" % (open_before + 1))
    d.wait_for_timeout(500)  # let the charts settle
    d.screenshot(path=str(shots / f"dashboard-{language}.png"), full_page=True)

    # Progress, then the final report; the console sees both and closes ticket and incident.
    item = f'#tickets [data-ticket-id="{ticket.id}"]'
    t.fill(f"{item} textarea[name=feedback]", "抢险队已到达 crew on site")
    t.click(f'{item} [data-action="feedback"]')
    c.wait_for_selector("#detail .feedback >> text=抢险队已到达 crew on site")
    t.fill(f"{item} textarea[name=feedback]", "险情排除 all clear")
    t.click(f'{item} [data-action="final"]')
    ticket_on(c, ticket.id, "resolved")
    c.wait_for_selector("#detail .feedback >> text=险情排除 all clear")
    c.click(f'#detail [data-ticket-id="{ticket.id}"] [data-action="close"]')
    ticket_on(c, ticket.id, "closed")
    c.fill("#detail textarea[name=outcome]", "堤防加固完毕 bank repaired")  # closing takes an outcome (#13)
    c.click("#close-incident:not([disabled])")
    c.wait_for_selector(f'#detail[data-incident-id="{incident.id}"][data-status="closed"]')
    assert orm(lambda: Incident.objects.get(pk=incident.pk).status) == "closed"

    # The dashboard refetched on the events and its figures moved.
    d.wait_for_function(
        "() => gdDashboard.dashboard.tickets.by_status.closed >= 1"
        " && gdDashboard.figures.subcenters.some(r => r.code === '530921-water' && r.seconds.closed.p50 !== null)"
    )
    assert d.evaluate("gdDashboard.fetches") > fetches_before
    assert d.evaluate("gdDashboard.dashboard.incidents.total") >= 1
    assert d.evaluate("gdDashboard.dashboard.incidents.open") == open_before
    expect(d.locator('#timeliness tr[data-code="530921-water"]')).to_be_visible()

    assert orm(lambda: Incident.objects.filter(title="河水漫堤 river over its banks").count()) == 1
    for screen in (terminal, leader, console):
        assert screen.errors == []
        # Every address the pages asked for is on the server's own origin.
        assert screen.foreign_requests() == []
        assert any("/ws/v1/stream" in url for url in screen.requests)
    assert any("/static/vendor/leaflet/leaflet.js" in url for url in console.requests)
    assert any("/static/vendor/echarts/" in url for url in leader.requests)


def test_the_console_keeps_one_idempotency_key_per_form(servers, browser, cast):
    port = servers.start()
    console = login_as(browser, f"http://127.0.0.1:{port}", cast.dispatcher, "/console/")
    c = console.page
    keys = []
    c.on("request", lambda r: keys.append(r.headers.get("idempotency-key")) if r.method == "POST" else None)
    click_map_at(c, *FENGQING)
    c.fill("input[name=title]", "山体滑坡 landslide")
    c.select_option("select[name=severity]", "3")
    c.focus("input[name=title]")
    c.keyboard.press("Enter")
    c.keyboard.press("Enter")  # the second one while the first is in flight, or on a closed form
    c.wait_for_selector("#report", state="hidden")
    assert len(keys) == 1 and keys[0]
    assert orm(lambda: Incident.objects.filter(title="山体滑坡 landslide").count()) == 1
    # Esc cancels a new form without sending anything (a click beside the new incident's marker, not on it).
    click_map_at(c, FENGQING[0] - 0.1, FENGQING[1])
    c.fill("input[name=title]", "never sent")
    c.keyboard.press("Escape")
    c.wait_for_selector("#report", state="hidden")
    assert len(keys) == 1 and not orm(lambda: Incident.objects.filter(title="never sent").exists())


# ---- the terminal survives a dropped connection ------------------------------------------


def test_terminal_reconnects_and_shows_the_tickets_issued_meanwhile_once_each(servers, browser, cast):
    port = servers.start()
    other = servers.start()  # the command center keeps working while the terminal's server is down
    key = dispatcher_token(cast)
    terminal = login_as(browser, f"http://127.0.0.1:{port}", cast.water_op, "/terminal/")
    t = terminal.page
    t.click("#arm")
    first = report(other, key, "第一单 before the drop")["tickets"][0]["id"]
    ticket_on(t, first, "delivered")

    servers.stop(port)
    t.wait_for_selector('#conn:not([data-state="online"])')
    meanwhile = [report(other, key, f"断线期间 meanwhile {n}")["tickets"][0]["id"] for n in (1, 2)]
    servers.start(port)

    t.wait_for_selector('#conn[data-state="online"]', timeout=40_000)
    for ticket_id in meanwhile:
        ticket_on(t, ticket_id, "delivered")  # shown, and acknowledged by itself after the reconnect
    assert t.locator("#tickets > li[data-ticket-id]").count() == 3
    assert [t.locator(f'#tickets [data-ticket-id="{i}"]').count() for i in [first, *meanwhile]] == [1, 1, 1]
    missed = t.locator("#missed li").evaluate_all("items => items.map(li => Number(li.dataset.ticketId))")
    assert missed == meanwhile
    assert t.get_attribute("main", "data-ringing") == "true"
    assert orm(lambda: set(Ticket.objects.filter(id__in=meanwhile).values_list("status", flat=True))) == {"delivered"}
    assert terminal.errors == [] and terminal.foreign_requests() == []


# ---- translations ------------------------------------------------------------------------


def po_entries(path):
    """Return [(msgid, msgstr, fuzzy)] of a .po file (plural forms are not used by these catalogs)."""
    entries, fuzzy, current, field = [], False, {}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith(("msgid ", "msgstr ")):
            field, rest = line.split(" ", 1)
            current[field] = eval(rest)  # a C-style quoted string
        elif line.startswith('"') and field:
            current[field] += eval(line)
        elif not line.strip() and "msgid" in current:
            entries.append((current["msgid"], current.get("msgstr", ""), fuzzy))
            current, fuzzy, field = {}, False, None
    return [entry for entry in entries if entry[0]]


@pytest.mark.parametrize("domain", CATALOGS)
def test_every_message_has_a_chinese_translation_and_the_mo_is_compiled(domain):
    entries = po_entries(LOCALE / f"{domain}.po")
    assert len(entries) > 20
    assert [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy] == []
    with open(LOCALE / f"{domain}.mo", "rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    assert [msgid for msgid, msgstr, _ in entries if catalog.gettext(msgid) != msgstr] == []


def ui_strings():
    """Return (msgid, msgstr) pairs worth looking for on a page: whole words, not echoed by the translation."""
    pairs = [(i, s) for domain in CATALOGS for i, s, _ in po_entries(LOCALE / f"{domain}.po")]
    return [(i, s) for i, s in pairs if len(i) >= 4 and i not in s and "%" not in i]


@pytest.mark.parametrize(("locale", "language"), [("zh-CN", "zh-hans"), ("en-US", "en")])
def test_the_three_screens_render_with_no_untranslated_text(servers, browser, cast, locale, language):
    port = servers.start()
    base = f"http://127.0.0.1:{port}"
    report(port, dispatcher_token(cast), "语言检查 language check")  # so the screens show tickets too
    strings = ui_strings()
    for user, path in ((cast.dispatcher, "/console/"), (cast.water_op, "/terminal/"), (cast.leader, "/dashboard/")):
        screen = login_as(browser, base, user, path, locale=locale)
        page = screen.page
        assert page.get_attribute("html", "lang") == language
        if path == "/console/":
            click_map_at(page, FENGQING[0] - 0.1, FENGQING[1])  # beside the incident's marker (which opens it)
            page.wait_for_selector("#route-preview li")
            page.click("#incidents li[data-incident-id]")
            page.wait_for_selector("#detail .stages")
        page.wait_for_timeout(300)
        text = page.inner_text("body")
        if language == "zh-hans":
            assert [i for i, s in strings if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text)] == []
        else:
            assert [s for i, s in strings if re.search(r"[\u4e00-\u9fff]", s) and s in text and len(s) >= 3] == []
        assert screen.errors == [] and screen.foreign_requests() == []
        screen.context.close()


def test_the_bulletin_prints_the_day_s_figures(servers, browser, cast):
    port = servers.start()
    report(port, dispatcher_token(cast), "日报检查 bulletin check")
    screen = login_as(browser, f"http://127.0.0.1:{port}", cast.leader, "/dashboard/")
    page = screen.page
    page.goto(f"http://127.0.0.1:{port}/dashboard/bulletin/")
    assert page.inner_text("#b-total") == "1"
    assert page.locator('link[media="print"]').count() == 1
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()


def test_each_role_lands_on_its_screen_and_may_not_open_the_others(client, cast):
    for user, home in ((cast.dispatcher, "/console/"), (cast.admin, "/console/"),
                       (cast.water_op, "/terminal/"), (cast.leader, "/dashboard/")):
        verified_login(client, user)  # the admin must have a second factor
        assert client.get("/").headers["Location"] == home
    client.force_login(cast.leader)
    assert client.get("/console/").status_code == 403
    assert client.get("/terminal/").status_code == 403
    assert client.get("/api/v1/dashboard/figures").status_code == 200
    client.force_login(cast.water_op)
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/api/v1/dashboard/figures").status_code == 403
    client.logout()
    assert client.get("/console/").headers["Location"].startswith("/login/?next=/console/")
