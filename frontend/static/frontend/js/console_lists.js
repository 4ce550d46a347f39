// The console's lists: what needs attention (and the one button that acts on it), the open incidents,
// the sub-centers' terminals, the notices that could not be sent, and the search over the history.

import {
  actionLabel, api, clock, incidentStatusLabel, nameOf, safeUrl, severityLabel, SEVERITY_ROMAN,
  terminalLabel, terminalState, ticketStatusLabel, time,
} from "./common.js";
import { attention, isLate } from "./store.js";
import { html, Component } from "./ui.js";
import { categoryName, store, subcenterName, subcenterPhone, takeAnswer, ui } from "./console_shared.js";

// ---- needs attention -------------------------------------------------------------------------

function whoseMove(item) {
  const action = actionLabel(item.action);
  return item.whose === "us"
    ? interpolate(gettext("waiting for us: %(action)s"), { action }, true)
    : interpolate(gettext("waiting for them: %(action)s"), { action }, true);
}

class AttentionItem extends Component {
  constructor() {
    super();
    this.state = { busy: false, error: "" };
  }

  async act(action) {
    const { ticket } = this.props.item;
    this.setState({ busy: true, error: "" });
    try {
      takeAnswer(await api(`tickets/${ticket.id}/${action}`, { method: "POST", body: {} }), ticket.status);
    } catch (error) {
      this.setState({ error: error.message });
    } finally {
      this.setState({ busy: false });
    }
  }

  // The one button that acts on it: ours to do here, or the sub-center's duty phone to call.
  button(item) {
    const { ticket, incident } = item;
    const stop = (fn) => (event) => { event.stopPropagation(); fn(); };
    if (item.whose === "us" && (item.action === "confirm" || item.action === "close")) {
      return html`<button type="button" class="primary" data-action=${item.action} data-ticket-id=${ticket.id}
        disabled=${this.state.busy} onClick=${stop(() => this.act(item.action))}>${actionLabel(item.action)}</button>`;
    }
    if (item.whose === "us") {
      return html`<button type="button" class="primary" data-action="assign" onClick=${stop(() => ui.select(incident.id))}>${actionLabel("assign")}</button>`;
    }
    if (item.phone) {
      return html`<a class="button primary" data-action="call" href=${safeUrl(`tel:${item.phone}`)}
        onClick=${(e) => e.stopPropagation()}>${gettext("Call")} ${item.phone}</a>`;
    }
    return html`<span class="muted" data-action="no-phone">${gettext("no duty phone on file")}</span>`;
  }

  what(item) {
    const { ticket } = item;
    if (item.kind === "triage") return gettext("triage: no owner found");
    if (item.kind === "rejected") {
      return html`${interpolate(gettext("rejected by %(name)s"), { name: subcenterName(ticket.subcenter) }, true)}${ticket.reason ? `: ${ticket.reason}` : ""}`;
    }
    return html`<span class="who">${subcenterName(ticket.subcenter)}</span> · <span class="stage">${ticketStatusLabel(ticket.status)}</span>
      ${" · "}<span class="late-by">${interpolate(gettext("late %(clock)s"), { clock: clock(item.lateS) }, true)}</span>`;
  }

  render({ item }, { error }) {
    const { incident, ticket } = item;
    const phone = item.phone;
    return html`<li class=${`attention ${item.kind === "late" ? "late" : "owner"}`} data-incident-id=${incident.id}
        data-ticket-id=${ticket?.id} data-kind=${item.kind} data-whose=${item.whose} onClick=${() => ui.select(incident.id)}>
      <div><strong>#${incident.id} ${incident.title}</strong></div>
      <div>${this.what(item)}</div>
      <div class=${`whose whose-${item.whose}`}>${whoseMove(item)}
        ${item.kind === "late" ? html` · <span class="rung">${interpolate(gettext("escalation rung %(n)s of 4"), { n: item.rung }, true)}</span>` : null}
        ${phone ? html` · <span class="phone">☎ ${phone}</span>` : null}</div>
      <div class="actions">${this.button(item)}</div>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </li>`;
  }
}

export function AttentionList({ now }) {
  const items = attention(store, now).map((item) => ({ ...item, phone: item.phone || (item.ticket ? subcenterPhone(item.ticket.subcenter) : "") }));
  if (!items.length) return html`<li class="muted">${gettext("Nothing needs attention.")}</li>`;
  return items.map((item) => html`<${AttentionItem} key=${item.key} item=${item} />`);
}

// ---- open incidents ---------------------------------------------------------------------------

function IncidentItem({ incident, now }) {
  const own = store.ticketsOf(incident.id);
  const late = own.some((t) => isLate(t, now));
  const select = () => ui.select(incident.id);
  return html`<li class=${`incident sev-${incident.severity}${late ? " late" : ""}${incident.id === ui.selected ? " selected" : ""}`}
      data-incident-id=${incident.id} data-status=${incident.status} tabindex="0"
      onClick=${select} onKeyDown=${(e) => e.key === "Enter" && select()}>
    <span class=${`sev sev-${incident.severity}`}>${SEVERITY_ROMAN[incident.severity]}</span>
    ${" "}<strong class="title">${incident.title}</strong>${" "}
    <span class="muted">${categoryName(incident)} · ${incidentStatusLabel(incident.status)} · ${time(incident.reported_at)}</span>
    ${(incident.call_count ?? 1) > 1 ? html` <span class="badge calls">${interpolate(gettext("%(n)s call(s)"), { n: incident.call_count }, true)}</span>` : null}
    <div class="chips">${own.map((t) => html`<span key=${t.id} class=${`chip status-${t.status}${isLate(t, now) ? " late" : ""}`}
      data-ticket-id=${t.id}>${subcenterName(t.subcenter)} · ${ticketStatusLabel(t.status)}</span>`)}</div>
  </li>`;
}

export function IncidentList({ now }) {
  const open = store.openIncidents();
  if (!open.length) return html`<li class="muted">${gettext("No open incidents.")}</li>`;
  return open.map((incident) => html`<${IncidentItem} key=${incident.id} incident=${incident} now=${now} />`);
}

// ---- sub-center terminals ---------------------------------------------------------------------

export function HealthList() {
  const rank = { armed: 0, online: 1, offline: 2 };
  const sorted = [...ui.subcenters.values()].map((s) => ({ s, state: terminalState(s.terminal) }))
    .sort((a, b) => rank[a.state] - rank[b.state] || a.s.code.localeCompare(b.s.code));
  return sorted.map(({ s, state }) => html`<li key=${s.code} class=${`health-${state}`} data-code=${s.code} title=${s.code}>
    <span class="dot"></span>${subcenterName(s)} <span class="muted">${terminalLabel(state)}</span></li>`);
}

// ---- notices that failed: the duty phones and leaders that could not be reached ----------------

export const failedNotices = new Map(); // notice id → notice (GET notices?status=failed, then notice.failed events)
export const noticeState = { error: "" };

export function FailedNotices() {
  const newest = [...failedNotices.values()].sort((a, b) => b.id - a.id);
  if (!newest.length && !noticeState.error) return null;
  return html`<section class="card" id="notices-failed-card">
    <h2>${gettext("Notices that could not be sent")}</h2>
    <ul id="notices-failed" class="list">
      ${noticeState.error ? html`<li class="error">${noticeState.error}</li>` : null}
      ${newest.map((n) => html`<li key=${n.id} class="attention late" data-notice-id=${n.id} onClick=${() => ui.select(n.incident_id)}>
        <strong>${n.to}</strong> — ${interpolate(gettext("ticket #%(ticket)s, incident #%(incident)s"), { ticket: n.ticket_id, incident: n.incident_id }, true)}
        <div class="muted">${n.last_error}</div></li>`)}
    </ul></section>`;
}

// ---- find anything: incidents over the whole history -------------------------------------------

const OPEN_STATUSES = "triage,dispatched,acknowledged,resolved";
const PAGE = 20;

function isoOrEmpty(local) {
  return local ? new Date(local).toISOString() : "";
}

export class Search extends Component {
  constructor() {
    super();
    this.state = { results: null, next: null, busy: false, error: "" };
  }

  query(form, before = null) {
    const f = form.elements;
    const query = new URLSearchParams({ limit: String(PAGE) });
    const put = (key, value) => value && query.set(key, value);
    put("q", f.q.value.trim());
    put("status", f.status.value === "open" ? OPEN_STATUSES : f.status.value);
    put("category", f.category.value);
    put("severity", f.severity.value);
    put("county", f.county.value);
    put("reported_after", isoOrEmpty(f.reported_after.value));
    put("reported_before", isoOrEmpty(f.reported_before.value));
    put("before", before);
    return query;
  }

  async run(form, more = false) {
    this.setState({ busy: true, error: "" });
    try {
      const answer = await api(`incidents?${this.query(form, more ? this.state.next : null)}`);
      const found = (answer.features || []).map((f) => ({ ...f.properties, id: f.properties.id ?? f.id }));
      this.setState({ results: more ? [...this.state.results, ...found] : found, next: answer.next || null });
    } catch (error) {
      this.setState({ error: error.message });
    } finally {
      this.setState({ busy: false });
    }
  }

  submit(event) {
    event.preventDefault();
    this.form = event.currentTarget;
    this.run(this.form);
  }

  fields() {
    const categories = [...ui.categories.values()];
    const counties = (ui.counties || []).slice().sort((a, b) => a.code.localeCompare(b.code));
    const statuses = ["triage", "dispatched", "acknowledged", "resolved", "closed"];
    return html`
      <label>${gettext("Text")} <input name="q" type="search" autocomplete="off" placeholder=${gettext("title, address, caller, phone…")} /></label>
      <div class="row">
        <label>${gettext("Status")} <select name="status"><option value="">${gettext("any")}</option>
          <option value="open">${gettext("open")}</option>
          ${statuses.map((s) => html`<option key=${s} value=${s}>${incidentStatusLabel(s)}</option>`)}</select></label>
        <label>${gettext("Severity")} <select name="severity"><option value="">${gettext("any")}</option>
          ${[1, 2, 3, 4].map((n) => html`<option key=${n} value=${n}>${severityLabel(n)}</option>`)}</select></label>
      </div>
      <div class="row">
        <label>${gettext("Category")} <select name="category"><option value="">${gettext("any")}</option>
          ${categories.map((c) => html`<option key=${c.code} value=${c.code}>${nameOf(c)}</option>`)}</select></label>
        <label>${gettext("County")} <select name="county"><option value="">${gettext("any")}</option>
          ${counties.map((c) => html`<option key=${c.code} value=${c.code}>${nameOf(c)}</option>`)}</select></label>
      </div>
      <div class="row">
        <label>${gettext("Reported after")} <input name="reported_after" type="datetime-local" /></label>
        <label>${gettext("Reported before")} <input name="reported_before" type="datetime-local" /></label>
      </div>`;
  }

  render(_props, { results, next, busy, error }) {
    return html`<form id="search" class="search" onSubmit=${(e) => this.submit(e)}>
      ${this.fields()}
      <div class="actions"><button type="submit" id="search-submit" class="primary" disabled=${busy}>${gettext("Search")}</button></div>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      ${results === null ? null : html`<p class="muted" id="search-count">${interpolate(gettext("%(n)s found"), { n: results.length }, true)}${next ? "+" : ""}</p>
        <ul id="search-results" class="list">${results.map((i) => html`<li key=${i.id} data-incident-id=${i.id} data-status=${i.status}
            class=${i.id === ui.selected ? "selected" : ""} onClick=${() => ui.select(i.id)}>
          <span class=${`sev sev-${i.severity}`}>${SEVERITY_ROMAN[i.severity]}</span> <strong>#${i.id} ${i.title}</strong>
          <div class="muted">${categoryName(i)} · ${incidentStatusLabel(i.status)} · ${time(i.reported_at)} ${new Date(i.reported_at).toLocaleDateString(document.documentElement.lang)}</div></li>`)}</ul>
        ${next ? html`<button type="button" id="search-more" disabled=${busy} onClick=${() => this.run(this.form, true)}>${gettext("More")}</button>` : null}`}
    </form>`;
  }
}
