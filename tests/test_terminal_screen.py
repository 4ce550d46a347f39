"""The sub-center terminal, its alarm, the stream's reconnect and the leaders' dashboard in Chromium (#13).

Each test is named after the failure of issue #13 it shows fixed. Those marked "(contract)" need the
server side of the contract (/tmp/contract13.md, docs/PROTOCOL.md): the `check` action and the
dashboard's never-reached stages.
"""

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch.models import Ticket
from tests.screens import dispatcher_token, login_as, orm, report, ticket_on

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def confirm(port, key, ticket_id):
    response = httpx.post(f"http://127.0.0.1:{port}/api/v1/tickets/{ticket_id}/confirm", json={},
                          headers={"Authorization": f"Token {key}"}, timeout=10)
    assert response.status_code == 200, response.text


def armed_terminal(browser, base, cast, locale="en-US"):
    terminal = login_as(browser, base, cast.water_op, "/terminal/", locale=locale)
    terminal.page.click("#arm")
    terminal.page.wait_for_selector('main[data-armed="true"]')
    return terminal


def flashes(page, seconds=2.5):
    """Return the tab titles and favicon addresses seen over a few seconds."""
    titles, icons = set(), set()
    for _ in range(int(seconds / 0.25)):
        titles.add(page.title())
        icons.add(page.evaluate("document.querySelector('link[rel~=\"icon\"]').href"))
        page.wait_for_timeout(250)
    return titles, icons


# ---- 5: the detail pane is never rebuilt ----------------------------------------------------


def test_13_5_detail_keeps_ticks_zoom_and_unsent_note_through_events(servers, browser, cast):
    port = servers.start()
    key = dispatcher_token(cast)
    terminal = armed_terminal(browser, f"http://127.0.0.1:{port}", cast)
    t = terminal.page
    ticket = report(port, key, "详情保持 detail keeps")["tickets"][0]["id"]
    item = f'#tickets [data-ticket-id="{ticket}"]'
    ticket_on(t, ticket, "delivered")
    t.click(f'{item} [data-action="accept"]')
    ticket_on(t, ticket, "accepted")

    t.click(f"{item} .head")
    t.wait_for_selector("#detail-map[data-fitted]")
    t.evaluate("gdDetailMap.setZoom(13, {animate: false}); document.getElementById('detail-map').dataset.mark = 'kept'")
    assert t.evaluate("gdDetailMap.getZoom()") == 13
    t.check('#detail .checklist input[data-item="1"]')
    t.fill(f"{item} textarea[name=feedback]", "未发送的进展 unsent note")

    # Events for this ticket and for a new one: the pane is updated, not rebuilt.
    confirm(port, key, ticket)
    ticket_on(t, ticket, "confirmed")
    other = report(port, key, "另一单 another")["tickets"][0]["id"]
    ticket_on(t, other, "delivered")
    t.wait_for_timeout(300)
    assert t.is_checked('#detail .checklist input[data-item="1"]')
    assert not t.is_checked('#detail .checklist input[data-item="0"]')
    assert t.evaluate("gdDetailMap.getZoom()") == 13
    assert t.get_attribute("#detail-map", "data-mark") == "kept"
    assert t.input_value(f"{item} textarea[name=feedback]") == "未发送的进展 unsent note"

    # (contract) The tick is an event: saved, and still ticked after a reload.
    t.wait_for_function(f"() => gdTerminal.store.tickets.get({ticket}).checklist_done?.includes(1)")
    assert orm(lambda: Ticket.objects.get(pk=ticket).checklist_done) == [1]
    t.reload()
    t.wait_for_selector("body[data-ready=true]")
    t.click(f'#tickets [data-ticket-id="{ticket}"] .head')
    assert t.is_checked('#detail .checklist input[data-item="1"]')
    assert terminal.errors == []


# ---- 6: an alarm that cannot be missed -------------------------------------------------------


def rearm_by_gesture(page, gesture, must_ask=True):
    """After a reload the page says loudly that the alarm is not armed, until the first gesture.

    Chromium lets a page that follows a click on the same site (the language switch) play at once.
    """
    page.wait_for_selector("body[data-ready=true]")
    if must_ask or page.get_attribute("main", "data-armed") != "true":
        expect(page.locator("#arm-gate.rearm .again")).to_be_visible()
        gesture()
    page.wait_for_selector('main[data-armed="true"]')
    expect(page.locator("#arm-gate")).to_be_hidden()


def test_13_6_alarm_stays_armed_across_reload_and_language_switch(servers, browser, cast):
    port = servers.start()
    key = dispatcher_token(cast)
    terminal = armed_terminal(browser, f"http://127.0.0.1:{port}", cast)
    t = terminal.page

    t.reload()
    rearm_by_gesture(t, lambda: t.mouse.click(5, 300))
    t.click('.lang button[value="zh-hans"]')
    t.wait_for_selector('html[lang="zh-hans"]')
    rearm_by_gesture(t, lambda: t.keyboard.press("a"), must_ask=False)
    expect(t.locator("#armed-note")).to_have_text("警报声已启用")

    ticket = report(port, key, "重载后响铃 rings after reload")["tickets"][0]["id"]
    ticket_on(t, ticket, "delivered")
    t.wait_for_selector('main[data-ringing="true"][data-alarm="ticket"]')
    assert t.evaluate("gdAlarm.oscillator !== null && gdAlarm.pattern === 'ticket'")
    titles, icons = flashes(t)
    assert any(title.startswith("‼") for title in titles) and len(titles) == 2
    assert any(icon.startswith("data:image/png;base64,") for icon in icons) and len(icons) == 2
    t.click(f'#tickets [data-ticket-id="{ticket}"] [data-action="accept"]')
    t.wait_for_selector('main[data-ringing="false"][data-alarm=""]')
    assert not t.title().startswith("‼")
    assert terminal.errors == []


def test_13_6_test_button_and_disconnect_alarm(servers, browser, cast):
    servers.env["ALARM_ON_DISCONNECT_S"] = "2"
    port = servers.start()
    terminal = armed_terminal(browser, f"http://127.0.0.1:{port}", cast)
    t = terminal.page

    t.click("#test-alarm")
    t.wait_for_selector('main[data-alarm="test"]')
    assert t.evaluate("gdAlarm.oscillator !== null")
    t.wait_for_selector('main[data-alarm=""]', timeout=5000)
    assert t.evaluate("gdAlarm.oscillator === null")

    servers.stop(port)
    t.wait_for_selector('main[data-alarm="disconnect"]', timeout=10_000)
    expect(t.locator("#disconnect-banner")).to_be_visible()
    assert t.evaluate("gdAlarm.oscillator !== null && gdAlarm.pattern === 'disconnect'")
    assert t.evaluate("gdAlarm.oscillator.type") == "sawtooth"  # not the ticket's square wave
    titles, _ = flashes(t, 1.5)
    assert any(title.startswith("‼") for title in titles)

    # "Retry now" beats the back-off: with the server back but the next try still seconds away, a click
    # reconnects at once. (Should Daphne start so slowly that the back-off wins, the server goes down again.)
    for _ in range(3):
        t.wait_for_function("() => Number(document.querySelector('#conn').dataset.retryIn) >= 5", timeout=30_000)
        servers.start(port)
        if t.evaluate("() => { const b = document.querySelector('#retry-now'); b?.click(); return Boolean(b); }"):
            break
        servers.stop(port)
    else:
        pytest.fail("the back-off reconnected before Retry now could be pressed, three times")
    t.wait_for_selector('#conn[data-state="online"]', timeout=2_500)
    t.wait_for_selector('main[data-alarm=""]')
    expect(t.locator("#disconnect-banner")).to_be_hidden()


# ---- 7: our own wait is not the sub-center's lateness ----------------------------------------


def test_13_7_terminal_does_not_call_our_wait_overdue(servers, browser, cast):
    port = servers.start()
    key = dispatcher_token(cast)
    terminal = armed_terminal(browser, f"http://127.0.0.1:{port}", cast)
    t = terminal.page
    ours = report(port, key, "等我们确认 waits for us")["tickets"][0]["id"]
    theirs = report(port, key, "等他们接收 waits for them")["tickets"][0]["id"]
    ticket_on(t, theirs, "delivered")
    t.click(f'#tickets [data-ticket-id="{ours}"] [data-action="accept"]')
    ticket_on(t, ours, "accepted")
    past = timezone.now() - timedelta(minutes=10)
    orm(lambda: Ticket.objects.filter(id__in=[ours, theirs]).update(overdue=True, escalation_level=1, due_at=past))

    t.reload()
    t.wait_for_selector("body[data-ready=true]")
    waiting = t.locator(f'#tickets [data-ticket-id="{ours}"]')
    expect(waiting.locator(".badge.waiting")).to_have_text("waiting for the command center")
    assert "late" not in waiting.get_attribute("class").split()
    expect(waiting.locator(".badge.late")).to_have_count(0)
    late = t.locator(f'#tickets [data-ticket-id="{theirs}"]')
    assert "late" in late.get_attribute("class").split()
    expect(late.locator(".badge.late")).to_contain_text("overdue")


# ---- 9: timeliness counts what never arrived (contract) --------------------------------------


def test_13_9_timeliness_counts_never_reached_stages(servers, browser, cast):
    port = servers.start()
    report(port, dispatcher_token(cast), "从未送达 never delivered")  # no terminal is online: it stays issued
    leader = login_as(browser, f"http://127.0.0.1:{port}", cast.leader, "/dashboard/")
    d = leader.page
    row = d.locator('#timeliness tr[data-code="530921-water"]')
    expect(row).to_be_visible()
    assert row.locator("td").nth(2).inner_text() != "–"  # to delivery: its age so far, not nothing
    assert d.inner_text("#slowest") == ""  # one ticket names nobody the slowest
    assert leader.errors == []


# ---- 10: English names -----------------------------------------------------------------------


def test_13_10_english_terminal_uses_english_names(servers, browser, cast):
    port = servers.start()
    terminal = armed_terminal(browser, f"http://127.0.0.1:{port}", cast)
    t = terminal.page
    ticket = report(port, dispatcher_token(cast), "英文名 English names")["tickets"][0]["id"]
    item = t.locator(f'#tickets [data-ticket-id="{ticket}"]')
    expect(item.locator(".meta")).to_contain_text("Flood / waterlogging")  # (contract) category_name_en


# ---- 11: the reconnect counts down; "Retry now" -----------------------------------------------


def test_13_11_reconnect_counts_down_and_retry_now_reconnects(servers, browser, cast):
    port = servers.start()
    terminal = login_as(browser, f"http://127.0.0.1:{port}", cast.water_op, "/terminal/")
    t = terminal.page
    t.evaluate("""() => { window.seen = []; new MutationObserver(() => {
        const c = document.getElementById('conn'); if (c.dataset.retryIn) seen.push(Number(c.dataset.retryIn)); })
        .observe(document.getElementById('conn'), {attributes: true, childList: true, characterData: true}); }""")
    servers.stop(port)
    t.wait_for_function("() => Number(document.getElementById('conn').dataset.retryIn) >= 5", timeout=40_000)
    shown = int(t.get_attribute("#conn", "data-retry-in"))
    t.wait_for_function(f"() => Number(document.getElementById('conn').dataset.retryIn) === {shown - 1}", timeout=2500)
    expect(t.locator("#conn")).to_have_text(f"Offline — retrying in {shown - 1} s")
    due = time.monotonic() + shown - 1

    servers.start(port)
    t.click("#retry-now")
    t.wait_for_selector('#conn[data-state="online"]', timeout=5000)
    assert time.monotonic() < due  # sooner than the countdown would have
    expect(t.locator("#retry-now")).to_be_hidden()
    assert max(t.evaluate("seen")) <= 10  # the back-off is capped at 10 s
    assert terminal.errors == []


# ---- 12: layout ---------------------------------------------------------------------------------


def test_13_12_long_titles_wrap_and_wall_mode_puts_the_map_first(servers, browser, cast):
    port = servers.start()
    base = f"http://127.0.0.1:{port}"
    leader = login_as(browser, base, cast.leader, "/dashboard/")
    d = leader.page
    expect(d.locator("#chart-category ~ .no-data")).to_be_visible()  # an empty chart says so
    expect(d.locator("#chart-category")).to_have_class("chart empty")
    box = d.locator("#map").bounding_box()
    assert box["y"] < 900 / 2 and box["height"] >= 350  # large, above the fold

    d.goto(base + "/dashboard/?wall=1")
    d.wait_for_selector("body.wall[data-ready=true]")
    box, figures = d.locator("#map").bounding_box(), d.locator(".figures").bounding_box()
    assert box["y"] < figures["y"] and box["y"] < d.locator("#chart-category").bounding_box()["y"]
    assert box["height"] >= 0.6 * 900 and box["width"] >= 1300
    d.click("#wall-mode")
    d.wait_for_selector("body:not(.wall)")

    terminal = armed_terminal(browser, base, cast)
    t = terminal.page
    title = "很长的标题" * 20 + "Averyveryverylongwordwithoutanyspaces" * 2 + "x" * 16  # 200 characters
    ticket = report(port, dispatcher_token(cast), title)["tickets"][0]["id"]
    item = t.locator(f'#tickets [data-ticket-id="{ticket}"]')
    expect(item).to_be_visible()
    width = t.evaluate("document.documentElement.clientWidth")
    assert t.evaluate("document.documentElement.scrollWidth") <= width
    accept = item.locator('[data-action="accept"]').bounding_box()
    assert accept["x"] + accept["width"] <= width
    stages = item.locator(".stages").bounding_box()
    step = item.locator('.stages li[data-stage="issued"]').bounding_box()
    assert stages["height"] <= step["height"] + 2  # one row
    assert leader.errors == [] and terminal.errors == []


def test_13_12_rejected_tickets_leave_the_terminal_after_ten_minutes(servers, browser, cast):
    port = servers.start()
    terminal = armed_terminal(browser, f"http://127.0.0.1:{port}", cast)
    t = terminal.page
    t.clock.install()
    t.reload()
    t.wait_for_selector('#conn[data-state="online"]')
    ticket = report(port, dispatcher_token(cast), "拒绝后消失 rejected then gone")["tickets"][0]["id"]
    item = f'#tickets [data-ticket-id="{ticket}"]'
    ticket_on(t, ticket, "delivered")
    t.fill(f"{item} input[name=reason]", "不归我们管 not ours")
    t.click(f'{item} [data-action="reject"]')
    ticket_on(t, ticket, "rejected")  # still shown, with its reason, for a while
    expect(t.locator(f"{item} .reason")).to_contain_text("不归我们管 not ours")
    t.clock.fast_forward("09:00")
    t.wait_for_timeout(200)
    expect(t.locator(item)).to_have_count(1)
    t.clock.fast_forward("02:00")
    expect(t.locator(item)).to_have_count(0)
