// The console's detail of one incident: what it is, its tickets, and the command center's moves on
// it — edit, change severity, mark as a duplicate, close with an outcome (or why it cannot be closed
// yet) — and its timeline. Rendered by Preact from the store: forms are uncontrolled, so a redraw
// never touches what is being typed or chosen.

import {
  api, ApiError, eventLabel, incidentStatusLabel, severityLabel, SEVERITY_ROMAN, ticketStatusLabel, time,
} from "./common.js";
import { html, Component } from "./ui.js";
import { categoryName, loadIncident, store, subcenterName, takeAnswer, ui } from "./console_shared.js";
import { AssignForm, TicketItem } from "./console_tickets.js";

const EDITABLE = ["title", "address", "description", "reporter_name", "reporter_phone"];

function editLabel(field) {
  return {
    title: gettext("Title"), address: gettext("Address"), description: gettext("Description"),
    reporter_name: gettext("Reporter name"), reporter_phone: gettext("Reporter phone"),
  }[field];
}

// A form whose submit calls work(form) and shows its error; busy while it runs.
class ActionForm extends Component {
  constructor() {
    super();
    this.state = { busy: false, error: "", note: "" };
  }

  async submit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    this.setState({ busy: true, error: "", note: "" });
    try {
      const note = await this.props.work(form);
      this.setState({ note: note || "" });
    } catch (error) {
      this.setState({ error: error.message });
    } finally {
      this.setState({ busy: false });
    }
  }

  render({ id, cls, children, submit, submitId, disabled }, { busy, error, note }) {
    return html`<form id=${id} class=${cls} onSubmit=${(e) => this.submit(e)}>
      ${children}
      <div class="actions"><button type="submit" class="primary" id=${submitId} data-action=${cls}
        disabled=${busy || disabled}>${submit}</button></div>
      ${note ? html`<p class="note" role="status">${note}</p>` : null}
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </form>`;
  }
}

function EditForm({ incident, done }) {
  const work = async (form) => {
    const changes = {};
    EDITABLE.forEach((field) => {
      const value = form.elements[field].value;
      if (value !== (incident[field] || "")) changes[field] = value;
    });
    if (Object.keys(changes).length) takeAnswer(await api(`incidents/${incident.id}`, { method: "PATCH", body: changes }));
    done();
  };
  return html`<${ActionForm} cls="edit" submit=${gettext("Save")} work=${work}>
    ${EDITABLE.map((field) => html`<label key=${field}>${editLabel(field)}
      ${field === "description"
        ? html`<textarea name=${field} rows="2" defaultValue=${incident[field] || ""}></textarea>`
        : html`<input name=${field} defaultValue=${incident[field] || ""} required=${field === "title"} />`}</label>`)}
  <//>`;
}

function SeverityForm({ incident }) {
  const work = async (form) => {
    const severity = Number(form.elements.severity.value);
    const answer = await api(`incidents/${incident.id}/severity`, {
      method: "POST", body: { severity, reason: form.elements.reason.value.trim() },
    });
    takeAnswer(answer);
    form.elements.reason.value = "";
    const added = (answer.tickets || []).length;
    if (severity > incident.severity) return gettext("Lowering issues nothing and cancels nothing: cancel tickets by hand if needed.");
    return interpolate(gettext("%(n)s new ticket(s) issued for the new plan."), { n: added }, true);
  };
  const proposed = Math.max(1, incident.severity - 1);
  return html`<${ActionForm} cls="severity" submit=${gettext("Change severity")} work=${work}>
    <label>${gettext("Severity")} <select name="severity">
      ${[1, 2, 3, 4].map((n) => html`<option key=${n} value=${n} selected=${n === proposed}>${severityLabel(n)}</option>`)}
    </select></label>
    <label>${gettext("Reason")} <input name="reason" required maxlength="500" autocomplete="off" /></label>
  <//>`;
}

function MergeForm({ incident }) {
  const others = store.openIncidents().filter((i) => i.id !== incident.id && !i.duplicate_of);
  const work = async (form) => {
    const into = Number(form.elements.into.value);
    takeAnswer(await api(`incidents/${incident.id}/merge`, {
      method: "POST", body: { into, reason: form.elements.reason.value.trim() },
    }));
  };
  return html`<${ActionForm} cls="merge" submit=${gettext("Mark as duplicate")} work=${work} disabled=${!others.length}>
    <label>${gettext("Duplicate of")} <select name="into" required>
      ${others.map((i) => html`<option key=${i.id} value=${i.id}>#${i.id} ${i.title}</option>`)}
    </select></label>
    <label>${gettext("Reason")} <input name="reason" required maxlength="500" autocomplete="off" /></label>
  <//>`;
}

function CloseForm({ incident }) {
  if (incident.status === "closed") {
    return html`<div class="outcome"><strong>${gettext("Outcome:")}</strong> ${incident.outcome || "—"}
      ${incident.closed_at ? html` <span class="muted">${time(incident.closed_at)}</span>` : null}</div>`;
  }
  const blocking = store.blockingTickets(incident.id);
  const none = store.ticketsOf(incident.id).length === 0;
  const work = async (form) => {
    takeAnswer(await api(`incidents/${incident.id}/close`, { method: "POST", body: { outcome: form.elements.outcome.value.trim() } }));
  };
  return html`<${ActionForm} id="close-form" cls="close-incident" submitId="close-incident" submit=${gettext("Close incident")}
      work=${work} disabled=${!store.canClose(incident.id)}>
    ${blocking.length ? html`<div id="close-blockers" class="blockers">${gettext("Cannot be closed yet: these tickets are still open:")}
      <ul>${blocking.map((t) => html`<li key=${t.id} data-ticket-id=${t.id}>#${t.id} ${subcenterName(t.subcenter)}: ${ticketStatusLabel(t.status)}</li>`)}</ul></div>`
      : none ? html`<p id="close-blockers" class="blockers">${gettext("Cannot be closed yet: no ticket was issued. Assign one, or mark it as a duplicate.")}</p>` : null}
    <label>${gettext("Outcome")} <textarea name="outcome" rows="2" required maxlength="2000"></textarea></label>
  <//>`;
}

// The incident's timeline from the event log; an older server's incident events stand in for it.
class Timeline extends Component {
  constructor() {
    super();
    this.state = { entries: null, error: "" };
  }

  componentDidMount() {
    this.load();
  }

  async load() {
    const { incident } = this.props;
    try {
      this.setState({ entries: (await api(`incidents/${incident.id}/timeline`)).entries, error: "" });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && ui.events.has(incident.id)) {
        this.setState({ entries: ui.events.get(incident.id).map((e) => ({ ...e, summary: e.payload })) });
      } else this.setState({ error: error.message });
    }
  }

  summary(entry) {
    const s = entry.summary || {};
    const parts = [s.reason, s.text, s.outcome, s.status && ticketStatusLabel(s.status)];
    if (s.item !== undefined) parts.push(interpolate(gettext("item %(n)s %(state)s"), { n: s.item + 1, state: s.done ? "✓" : "○" }, true));
    if (s.level) parts.push(interpolate(gettext("rung %(n)s"), { n: s.level }, true));
    if (s.changes) parts.push(Object.entries(s.changes).map(([k, [a, b]]) => `${k}: ${a} → ${b}`).join("; "));
    return parts.filter((p) => p !== undefined && p !== null && p !== "").join(" · ");
  }

  render({ incident }, { entries, error }) {
    return html`<div class="timeline-box">
      <div class="actions">
        <a class="print-timeline" href=${`/incidents/${incident.id}/timeline`} target="_blank" rel="noopener">${gettext("Printable timeline")}</a>
        <button type="button" data-action="timeline-refresh" onClick=${() => this.load()}>${gettext("Refresh")}</button>
      </div>
      ${error ? html`<p class="error">${error}</p>` : null}
      ${entries === null ? html`<p class="muted">${gettext("Loading…")}</p>` : html`<ol id="timeline" class="timeline">
        ${entries.map((e) => html`<li key=${e.seq} data-seq=${e.seq} data-name=${e.name}>
          <time>${time(e.at)}</time> <strong>${eventLabel(e.name)}</strong>
          ${e.subcenter ? html` <span>${subcenterName(e.subcenter)}</span>` : e.ticket_id ? html` <span>#${e.ticket_id}</span>` : null}
          ${e.actor ? html` <span class="muted">${e.actor}</span>` : null}
          ${this.summary(e) ? html`<div class="muted">${this.summary(e)}</div>` : null}</li>`)}
      </ol>`}
    </div>`;
  }
}

function Nearby({ incident }) {
  const seats = ui.nearby.get(incident.id);
  return html`<h3>${gettext("Nearby county seats")}</h3>
    <ul class="nearby" id="nearby">${seats === undefined ? html`<li class="muted">…</li>`
      : seats.error ? html`<li class="error">${seats.error}</li>`
      : seats.length ? seats.map((f, n) => html`<li key=${n}>${f.properties.name} — ${(f.properties.distance_m / 1000).toFixed(1)} km</li>`)
      : html`<li class="muted">${gettext("None within 50 km.")}</li>`}</ul>`;
}

const PANELS = () => [
  ["edit", gettext("Edit")], ["severity", gettext("Severity…")], ["merge", gettext("Duplicate…")], ["timeline", gettext("Timeline")],
];

export class Detail extends Component {
  constructor() {
    super();
    this.state = { panel: null };
  }

  toggle(panel) {
    this.setState({ panel: this.state.panel === panel ? null : panel });
  }

  panel(incident) {
    const { panel } = this.state;
    const open = incident.status !== "closed";
    if (panel === "edit" && open) return html`<${EditForm} incident=${incident} done=${() => this.setState({ panel: null })} />`;
    if (panel === "severity" && open) return html`<${SeverityForm} incident=${incident} />`;
    if (panel === "merge" && open) return html`<${MergeForm} incident=${incident} />`;
    if (panel === "timeline") return html`<${Timeline} incident=${incident} />`;
    return null;
  }

  header(incident) {
    return html`
      <h2><span class=${`sev sev-${incident.severity}`}>${SEVERITY_ROMAN[incident.severity]}</span> ${incident.title}</h2>
      <p class="muted">#${incident.id} · ${categoryName(incident)} · ${severityLabel(incident.severity)} · ${incidentStatusLabel(incident.status)}
        ${" · "}<span class="calls">${interpolate(gettext("%(n)s call(s)"), { n: incident.call_count ?? 1 }, true)}</span></p>
      ${incident.duplicate_of ? html`<p class="duplicate">${gettext("Duplicate of")} <button type="button" class="link"
        data-action="open-original" onClick=${() => ui.select(incident.duplicate_of)}>#${incident.duplicate_of}</button></p>` : null}
      ${incident.address ? html`<p>${gettext("Address:")} ${incident.address}</p>` : null}
      ${incident.reporter_name || incident.reporter_phone ? html`<p>${gettext("Reporter:")} ${incident.reporter_name} ${incident.reporter_phone}</p>` : null}
      ${incident.description ? html`<p>${incident.description}</p>` : null}`;
  }

  render({ incident, now }, { panel }) {
    const open = incident.status !== "closed";
    return html`<section class="card detail" id="detail" data-incident-id=${incident.id} data-status=${incident.status}>
      ${this.header(incident)}
      <div class="actions panels">${PANELS().filter(([name]) => open || name === "timeline").map(([name, label]) => html`
        <button type="button" key=${name} data-action=${`panel-${name}`} aria-pressed=${panel === name ? "true" : "false"}
          onClick=${() => this.toggle(name)}>${label}</button>`)}</div>
      ${this.panel(incident)}
      <ul class="tickets">${store.ticketsOf(incident.id).map((t) => html`<${TicketItem} key=${t.id} ticket=${t} now=${now} />`)}</ul>
      ${open ? html`<${AssignForm} incident=${incident} />` : null}
      <${CloseForm} incident=${incident} />
      <${Nearby} incident=${incident} />
    </section>`;
  }
}

export function EmptyDetail() {
  return html`<section class="card" id="detail" hidden></section>`;
}

export async function loadNearby(incidentId) {
  if (ui.nearby.has(incidentId)) return;
  try {
    const data = await api(`incidents/${incidentId}/nearby?layer=county_seats&radius_m=50000&limit=5`);
    ui.nearby.set(incidentId, data.features);
  } catch (error) {
    ui.nearby.set(incidentId, { error: error.message });
  }
  ui.redraw();
}

export { loadIncident };
