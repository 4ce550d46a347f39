"""The command console of issue #13 in real Chromium against real Daphne, PostGIS and Redis.

Each test is named after the failure it shows fixed (issue #13, "What failed") or the workflow it
walks ("What to build"). The console is driven as a dispatcher would: clicks, keys, the map; the
other side (the sub-center's operator) through the API.
"""

import re
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from api.tokens import token_issue
from dispatch.models import Call, Incident, Ticket
from geo.models import SubCenter
from tests.screens import FENGQING, click_map_at, login_as, orm, ticket_on

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

NEAR_FENGQING = [FENGQING[0] + 0.002, FENGQING[1]]  # about 200 m away: within the duplicate radius


class Api:
    """The API as the dispatcher's and the operator's own clients use it."""

    def __init__(self, port, cast):
        self.port = port
        self.dispatcher, self.operator = (orm(lambda u=u: token_issue(user=u)[1]) for u in (cast.dispatcher, cast.water_op))

    def call(self, method, path, body=None, token=None, expect=(200, 201)):
        response = httpx.request(method, f"http://127.0.0.1:{self.port}/api/v1/{path}", json=body,
                                 headers={"Authorization": f"Token {token or self.dispatcher}"}, timeout=10)
        assert response.status_code in expect, response.text
        return response.json()

    def report(self, title, where=FENGQING, severity=4, category="flood"):
        body = {"category": category, "severity": severity, "title": title,
                "location": {"type": "Point", "coordinates": where}}
        answer = self.call("POST", "incidents", body)
        return answer["incident"]["id"], [t["id"] for t in answer["tickets"]]

    def operator_does(self, ticket_id, *actions):
        for action in actions:
            body = {"text": "险情排除 all clear", "final": True} if action == "final" else None
            if action == "reject":
                body = {"reason": "不归我们管 not ours"}
            self.call("POST", f"tickets/{ticket_id}/{'feedback' if action == 'final' else action}", body, self.operator)


@pytest.fixture
def live(servers, cast):
    port = servers.start()
    return type("Live", (), {"port": port, "base": f"http://127.0.0.1:{port}", "api": Api(port, cast)})


def console_of(browser, live, cast, locale="en-US"):
    return login_as(browser, live.base, cast.dispatcher, "/console/", locale=locale)


def open_incident(page, incident_id):
    page.click(f'#incidents li[data-incident-id="{incident_id}"]')
    return page.wait_for_selector(f'#detail[data-incident-id="{incident_id}"]')


def log_at(page, lon, lat):
    """Open the report form at a point, as a click on the map there does (without hitting a marker)."""
    page.evaluate("([lon, lat]) => gdMap.fire('click', { latlng: L.latLng(lat, lon) })", [lon, lat])
    page.wait_for_selector("#report:not([hidden])")


def new_ticket_of(incident_id, before):
    return orm(lambda: Ticket.objects.select_related("subcenter").filter(incident_id=incident_id).exclude(id__in=before).get())


# ---- the numbered failures ------------------------------------------------------------------------


def test_13_1_assign_by_hand_keeps_its_choice_through_the_redraw(live, browser, cast):
    incident, (ticket,) = live.api.report("河水漫堤 rejected, to be given by hand")
    live.api.operator_does(ticket, "deliver", "reject")
    c = console_of(browser, live, cast).page
    open_incident(c, incident)
    ticket_on(c, ticket, "rejected")
    options = c.locator("#detail select[name=subcenter] option")
    expect(options).not_to_have_count(0)
    codes = options.evaluate_all("os => os.map((o) => o.value)")
    assert codes and all(code.endswith("-water") for code in codes)  # filtered by the rejected ticket's kind
    chosen = codes[-1]
    assert chosen != codes[0]
    c.select_option("#detail select[name=subcenter]", chosen)
    c.fill("#detail textarea[name=outcome]", "半句话 half a sentence")
    c.wait_for_timeout(6_000)  # more than one redraw (every second) and more than the old 5 s one
    assert c.eval_on_selector("#detail select[name=subcenter]", "s => s.value") == chosen
    assert c.input_value("#detail textarea[name=outcome]") == "半句话 half a sentence"
    c.click("#assign-submit")
    c.wait_for_selector("#assign-warning")  # nobody's terminal is online in this test: asked first
    c.click('[data-action="assign-anyway"]')
    assigned = None
    for _ in range(50):
        assigned = orm(lambda: Ticket.objects.select_related("subcenter").filter(incident_id=incident).exclude(id=ticket).first())
        if assigned:
            break
        c.wait_for_timeout(100)
    assert assigned and assigned.subcenter.code == chosen
    ticket_on(c, assigned.id, "issued")


def test_13_2_cancel_reopen_and_close_with_outcome(live, browser, cast):
    worked, (worked_ticket,) = live.api.report("道路积水 to be reopened")
    live.api.operator_does(worked_ticket, "deliver", "accept")
    live.api.call("POST", f"tickets/{worked_ticket}/confirm")
    live.api.operator_does(worked_ticket, "final")
    wrong, (wrong_ticket,) = live.api.report("派错了 a wrong ticket")
    c = console_of(browser, live, cast).page

    # A resolved ticket goes back to the sub-center with a reason, then is closed when done.
    open_incident(c, worked)
    ticket_on(c, worked_ticket, "resolved")
    c.click(f'#detail [data-ticket-id="{worked_ticket}"] [data-action="reopen"]')
    c.fill(f'#detail [data-ticket-id="{worked_ticket}"] input[name=reason]', "还有一处积水 one more street flooded")
    c.click(f'#detail [data-ticket-id="{worked_ticket}"] [data-action="reopen-submit"]')
    ticket_on(c, worked_ticket, "confirmed")
    assert orm(lambda: Ticket.objects.get(pk=worked_ticket).reason) == "还有一处积水 one more street flooded"
    live.api.operator_does(worked_ticket, "final")
    ticket_on(c, worked_ticket, "resolved")
    c.click(f'#detail [data-ticket-id="{worked_ticket}"] [data-action="close"]')
    ticket_on(c, worked_ticket, "closed")

    # The wrong one: the incident cannot be closed, and the page says which ticket holds it.
    open_incident(c, wrong)
    expect(c.locator("#close-incident")).to_be_disabled()
    expect(c.locator("#close-blockers")).to_contain_text(f"#{wrong_ticket}")
    c.click(f'#detail [data-ticket-id="{wrong_ticket}"] [data-action="cancel"]')
    c.fill(f'#detail [data-ticket-id="{wrong_ticket}"] input[name=reason]', "派错单位 wrong sub-center")
    c.click(f'#detail [data-ticket-id="{wrong_ticket}"] [data-action="cancel-submit"]')
    ticket_on(c, wrong_ticket, "cancelled")
    expect(c.locator("#close-blockers")).to_have_count(0)

    # Closed with an outcome (server: close takes {outcome}).
    c.fill("#detail textarea[name=outcome]", "误报，已撤销 false alarm")
    c.click("#close-incident:not([disabled])")
    c.wait_for_selector(f'#detail[data-incident-id="{wrong}"][data-status="closed"]')
    expect(c.locator("#detail .outcome")).to_contain_text("误报，已撤销 false alarm")
    assert orm(lambda: Incident.objects.get(pk=wrong).outcome) == "误报，已撤销 false alarm"


def test_13_3_clicking_a_marker_does_not_open_the_new_incident_form(live, browser, cast):
    incident, _ = live.api.report("标记点击 marker click")
    c = console_of(browser, live, cast).page
    c.wait_for_selector(f'#incidents li[data-incident-id="{incident}"]')
    click_map_at(c, *FENGQING)  # where the incident's marker is
    c.wait_for_selector(f'#detail[data-incident-id="{incident}"]')
    c.wait_for_timeout(300)
    expect(c.locator("#report")).to_be_hidden()
    # The map elsewhere still opens the form.
    log_at(c, *NEAR_FENGQING)


def test_13_4_incident_status_follows_its_tickets_without_reload(live, browser, cast):
    incident, (ticket,) = live.api.report("状态跟随 status follows")
    c = console_of(browser, live, cast).page
    open_incident(c, incident)
    item = f'#incidents li[data-incident-id="{incident}"]'
    c.wait_for_selector(f'{item}[data-status="dispatched"]')
    live.api.operator_does(ticket, "deliver", "accept")
    live.api.call("POST", f"tickets/{ticket}/confirm")
    c.wait_for_selector(f'{item}[data-status="acknowledged"]')
    c.wait_for_selector(f'#detail[data-incident-id="{incident}"][data-status="acknowledged"]')
    live.api.operator_does(ticket, "final")
    c.wait_for_selector(f'{item}[data-status="resolved"]')
    c.wait_for_selector(f'#detail[data-incident-id="{incident}"][data-status="resolved"]')


def test_13_7_attention_names_incident_stage_lateness_and_whose_move(live, browser, cast):
    ours, (our_ticket,) = live.api.report("等我们确认 waiting for our confirmation")
    live.api.operator_does(our_ticket, "deliver", "accept")
    theirs, (their_ticket,) = live.api.report("等他们接收 waiting for delivery")
    past = timezone.now() - timedelta(seconds=75)

    def late():
        Ticket.objects.filter(id__in=[our_ticket, their_ticket]).update(due_at=past)
        Ticket.objects.filter(id=their_ticket).update(escalation_level=3)
        SubCenter.objects.filter(code="530921-water").update(duty_phone="0883-6212345")

    orm(late)
    c = console_of(browser, live, cast).page
    mine = c.locator(f'#attention li[data-ticket-id="{our_ticket}"]')
    expect(mine).to_contain_text(f"#{ours}")
    expect(mine).to_contain_text("等我们确认 waiting for our confirmation")
    expect(mine).to_contain_text("accepted")  # the ticket's stage
    expect(mine).to_contain_text("waiting for us: confirm")
    assert re.search(r"late 1:[1-5]\d", mine.inner_text())
    expect(mine).to_contain_text("Fengqing County Water Affairs Bureau")
    other = c.locator(f'#attention li[data-ticket-id="{their_ticket}"]')
    expect(other).to_contain_text(f"#{theirs}")
    expect(other).to_contain_text("waiting for them: receive on the terminal")
    expect(other).to_contain_text("escalation rung 3 of 4")
    expect(other).to_contain_text("0883-6212345")
    assert other.locator('[data-action="call"]').get_attribute("href") == "tel:0883-6212345"
    # The one button that acts on ours: confirm, from the attention list itself.
    mine.locator('[data-action="confirm"]').click()
    expect(mine).to_have_count(0)
    assert orm(lambda: Ticket.objects.get(pk=our_ticket).status) == "confirmed"


def test_13_8_preview_and_assignment_show_terminal_state_and_warn(live, browser, cast):
    terminal = login_as(browser, live.base, cast.water_op, "/terminal/").page
    terminal.click("#arm")
    terminal.wait_for_selector('main[data-armed="true"]')
    c = console_of(browser, live, cast).page
    c.wait_for_selector('#health li[data-code="530921-water"].health-armed')

    # The preview names each receiver's terminal state…
    log_at(c, *NEAR_FENGQING)
    c.select_option("select[name=category]", "flood")
    c.select_option("select[name=severity]", "2")
    expect(c.locator('#route-preview li[data-code="530921-water"]')).to_have_attribute("data-terminal", "armed")
    expect(c.locator('#route-preview li[data-code="530921-water"]')).to_contain_text("online, alarm armed")
    expect(c.locator('#route-preview li[data-code="530921-health"]')).to_have_attribute("data-terminal", "offline")
    # …and where nobody owns a kind, names the kind.
    c.keyboard.press("Escape")
    log_at(c, 97.0, 21.0)  # outside every jurisdiction
    c.select_option("select[name=category]", "flood")
    c.select_option("select[name=severity]", "4")
    nobody = c.locator('#route-preview li.triage[data-kind="water"]')
    expect(nobody).to_contain_text("nobody")
    kind = re.compile(r"Water Affairs Bureau|water")  # its English name once the answer names it (missing_kinds)
    expect(nobody.locator(".kind")).to_have_text(kind)
    expect(c.locator("#missing-kinds")).to_contain_text(kind)
    c.keyboard.press("Escape")

    # Assigning to an offline terminal asks first; to the armed one it does not.
    incident, (ticket,) = live.api.report("人工指派 by hand to a live terminal")
    live.api.operator_does(ticket, "deliver", "reject")
    open_incident(c, incident)
    select = "#detail select[name=subcenter]"
    expect(c.locator(f'{select} option[value="530921-water"]')).to_have_attribute("data-terminal", "armed")
    expect(c.locator(f'{select} option[value="530922-water"]')).to_have_attribute("data-terminal", "offline")
    c.select_option(select, "530922-water")
    c.click("#assign-submit")
    warning = c.locator("#assign-warning")
    expect(warning).to_have_attribute("data-terminal", "offline")
    expect(warning).to_contain_text("offline")
    c.wait_for_timeout(300)
    assert orm(lambda: Ticket.objects.filter(incident_id=incident).count()) == 1  # nothing sent yet
    c.click('[data-action="assign-back"]')
    expect(warning).to_have_count(0)
    c.select_option(select, "530921-water")
    c.click("#assign-submit")
    c.wait_for_function(f"() => [...gdStore.tickets.values()].filter(t => t.incident_id === {incident}).length === 2")
    expect(warning).to_have_count(0)
    assert new_ticket_of(incident, [ticket]).subcenter.code == "530921-water"


def test_13_10_english_console_uses_english_names(live, browser, cast):
    incident, (ticket,) = live.api.report("英文名称 english names")
    live.api.operator_does(ticket, "deliver", "reject")
    live.api.call("POST", f"incidents/{incident}/assign", {"subcenter": "530921-water"})
    console = console_of(browser, live, cast)
    c = console.page
    open_incident(c, incident)
    detail = c.locator("#detail")
    expect(detail).to_contain_text("Flood / waterlogging")
    expect(detail).to_contain_text("Fengqing County Water Affairs Bureau")
    expect(detail).to_contain_text("assigned by hand at the command center")  # the rule `manual`, translated
    expect(detail).to_contain_text("the point lies in its jurisdiction")
    assert "洪涝" not in c.inner_text("#incidents") and "凤庆县水务局" not in detail.inner_text()
    assert "manual" not in detail.inner_text()
    # The preview names the plan in English too.
    log_at(c, *NEAR_FENGQING)
    expect(c.locator("#route-preview")).to_contain_text("Plan: Building fire III–IV")  # the form's first category
    assert "级" not in c.inner_text("#route-preview")
    c.keyboard.press("Escape")

    # A network failure is said in the screen's language, in English and in Chinese.
    for page, words in ((c, "The server cannot be reached"),
                        (console_of(browser, live, cast, locale="zh-CN").page, "无法连接服务器")):
        page.route(re.compile(r"/api/v1/route\?"), lambda route: route.abort())
        log_at(page, *NEAR_FENGQING)
        expect(page.locator("#route-preview")).to_contain_text(words)
        assert "Failed to fetch" not in page.inner_text("body")


# ---- the workflows ------------------------------------------------------------------------------


def test_severity_raise_adds_the_tickets_of_the_new_plan(live, browser, cast):
    incident, (ticket,) = live.api.report("平战结合 routine becomes major")
    c = console_of(browser, live, cast).page
    open_incident(c, incident)
    c.click('#detail [data-action="panel-severity"]')
    c.select_option("#detail form.severity select[name=severity]", "2")
    c.fill("#detail form.severity input[name=reason]", "水位持续上涨 the river keeps rising")
    c.click('#detail form.severity [data-action="severity"]')
    expect(c.locator("#detail li.ticket[data-ticket-id]")).to_have_count(4)  # water + civil affairs, health, air defence
    expect(c.locator("#detail h2 .sev")).to_have_text("II")
    assert orm(lambda: Incident.objects.get(pk=incident).severity) == 2


def test_duplicate_call_attaches_to_the_open_incident_and_merge_closes_the_duplicate(live, browser, cast):
    original, _ = live.api.report("重复来电 the first call")
    c = console_of(browser, live, cast).page
    c.wait_for_selector(f'#incidents li[data-incident-id="{original}"]')

    # A second caller about the same flood: attached, not a new incident.
    log_at(c, *NEAR_FENGQING)
    c.fill("input[name=reporter_name]", "李四")
    c.fill("input[name=reporter_phone]", "13900000000")
    c.fill("textarea[name=description]", "水已进屋 water in the houses")
    c.click(f'#duplicates li[data-incident-id="{original}"] [data-action="attach-call"]')
    c.wait_for_selector("#report", state="hidden")
    expect(c.locator("#detail .calls")).to_contain_text("2 call(s)")
    assert orm(lambda: Incident.objects.get(pk=original).call_count) == 2
    assert orm(lambda: Call.objects.filter(incident_id=original, reporter_phone="13900000000").count()) == 1
    assert orm(lambda: Incident.objects.count()) == 1

    # Logged twice anyway: marked as a duplicate of the first, it closes and its calls move.
    duplicate, (duplicate_ticket,) = live.api.report("又报了一次 logged twice")
    open_incident(c, duplicate)
    c.click('#detail [data-action="panel-merge"]')
    c.select_option("#detail form.merge select[name=into]", str(original))
    c.fill("#detail form.merge input[name=reason]", "同一处积水 the same flood")
    c.click('#detail form.merge [data-action="merge"]')
    c.wait_for_selector(f'#detail[data-incident-id="{duplicate}"][data-status="closed"]')
    ticket_on(c, duplicate_ticket, "cancelled")
    merged = orm(lambda: Incident.objects.get(pk=duplicate))
    assert merged.duplicate_of_id == original and merged.status == "closed"
    assert orm(lambda: Incident.objects.get(pk=original).call_count) == 3


def test_search_finds_closed_incidents_and_shows_the_timeline(live, browser, cast):
    closed, (closed_ticket,) = live.api.report("历史事件 searchable flood")
    live.api.call("POST", f"tickets/{closed_ticket}/cancel", {"reason": "误报 false alarm"})
    live.api.call("POST", f"incidents/{closed}/close", {"outcome": "误报 false alarm"})
    other, _ = live.api.report("另一事件 something else")
    c = console_of(browser, live, cast).page
    c.click("#search-card summary")
    c.fill("#search input[name=q]", "searchable")
    c.select_option("#search select[name=status]", "closed")
    c.select_option("#search select[name=county]", "530921")
    c.click("#search-submit")
    results = c.locator("#search-results li[data-incident-id]")
    expect(results).to_have_count(1)
    expect(results.first).to_have_attribute("data-incident-id", str(closed))
    assert c.locator(f'#search-results li[data-incident-id="{other}"]').count() == 0
    results.first.click()
    c.wait_for_selector(f'#detail[data-incident-id="{closed}"][data-status="closed"]')
    expect(c.locator("#detail .outcome")).to_contain_text("误报 false alarm")
    c.click('#detail [data-action="panel-timeline"]')
    for name in ("incident.reported", "ticket.issued", "ticket.cancelled", "incident.closed"):
        c.wait_for_selector(f'#timeline li[data-name="{name}"]')
    expect(c.locator('#timeline li[data-name="ticket.cancelled"]')).to_contain_text("误报 false alarm")
    assert c.get_attribute("#detail a.print-timeline", "href") == f"/incidents/{closed}/timeline"
    printable = c.context.request.get(f"{live.base}/incidents/{closed}/timeline")
    assert printable.status == 200 and "误报 false alarm" in printable.text()


def test_checklist_ticks_and_progress_show_on_the_console(live, browser, cast):
    incident, (ticket,) = live.api.report("清单进度 checklist progress")
    live.api.operator_does(ticket, "deliver", "accept")
    c = console_of(browser, live, cast).page
    open_incident(c, incident)
    expect(c.locator(f'#detail [data-ticket-id="{ticket}"] .checklist-progress li[data-item="0"]')).to_have_attribute("data-done", "false")
    live.api.call("POST", f"tickets/{ticket}/check", {"item": 0, "done": True}, live.api.operator)
    live.api.call("POST", f"tickets/{ticket}/feedback", {"text": "已到达 on site"}, live.api.operator)
    box = c.locator(f'#detail [data-ticket-id="{ticket}"]')
    expect(box.locator('.checklist-progress li[data-item="0"]')).to_have_attribute("data-done", "true")
    expect(box.locator(".checklist-progress")).to_contain_text("1 of 2 done")
    expect(box.locator(".feedback")).to_contain_text("已到达 on site")
