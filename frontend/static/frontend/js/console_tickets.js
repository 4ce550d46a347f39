// The console's tickets of one incident: stages, checklist ticks, progress, and the command
// center's moves on each (confirm, close, reopen and cancel with a reason), and assigning by hand.

import {
  api, clock, ruleLabel, Stages, terminalLabel, terminalState, ticketStatusLabel, time,
} from "./common.js";
import { isLate, lateBy, OPEN_TICKET } from "./store.js";
import { html, Component } from "./ui.js";
import { kindName, store, subcenterName, takeAnswer, ui } from "./console_shared.js";

function Checklist({ ticket }) {
  const items = ticket.checklist || [];
  if (!items.length) return null;
  const done = new Set(ticket.checklist_done || []);
  return html`<div class="checklist-progress">
    <div class="muted">${interpolate(gettext("Checklist: %(done)s of %(all)s done"), { done: done.size, all: items.length }, true)}</div>
    <ol>${items.map((item, index) => html`
      <li key=${index} class=${done.has(index) ? "done" : ""} data-item=${index} data-done=${done.has(index) ? "true" : "false"}>
        <span class="tick" aria-hidden="true">${done.has(index) ? "✓" : "○"}</span> ${item}</li>`)}</ol>
  </div>`;
}

function Feedback({ ticket }) {
  const items = store.feedback.get(ticket.id) || [];
  if (!items.length) return null;
  return html`<ul class="feedback">${items.map((f, n) => html`
    <li key=${f.id ?? `n${n}`} class=${f.final ? "final" : ""}><time>${time(f.created_at)}</time> ${f.final
      ? html`<strong>${gettext("Final:")} </strong>` : null}${f.text}</li>`)}</ul>`;
}

const REASON_ACTIONS = {
  cancel: () => ({ ask: gettext("Why is this ticket withdrawn?"), submit: gettext("Cancel the ticket") }),
  reopen: () => ({ ask: gettext("What is still to be done?"), submit: gettext("Send back to the sub-center") }),
};

export class TicketItem extends Component {
  constructor() {
    super();
    this.state = { asking: null, busy: false, error: "" };
  }

  async act(action, body = {}) {
    const { ticket } = this.props;
    this.setState({ busy: true, error: "" });
    try {
      takeAnswer(await api(`tickets/${ticket.id}/${action}`, { method: "POST", body }), ticket.status);
      this.setState({ asking: null });
    } catch (error) {
      this.setState({ error: error.message });
    } finally {
      this.setState({ busy: false });
    }
  }

  submitReason(event) {
    event.preventDefault();
    const reason = event.currentTarget.elements.reason.value.trim();
    if (reason) this.act(this.state.asking, { reason });
  }

  buttons(ticket) {
    const button = (action, label, cls = "", onClick = () => this.act(action)) => html`
      <button type="button" key=${action} class=${cls} data-action=${action} data-ticket-id=${ticket.id}
        disabled=${this.state.busy} onClick=${onClick}>${label}</button>`;
    const ask = (action) => () => this.setState({ asking: action, error: "" });
    const list = [];
    if (ticket.status === "accepted") list.push(button("confirm", gettext("Confirm"), "primary"));
    if (ticket.status === "resolved") list.push(button("close", gettext("Close ticket"), "primary"));
    if (ticket.status === "resolved") list.push(button("reopen", gettext("Reopen"), "", ask("reopen")));
    if (OPEN_TICKET.has(ticket.status)) list.push(button("cancel", gettext("Cancel ticket"), "", ask("cancel")));
    return list;
  }

  reasonForm() {
    const { asking, busy } = this.state;
    if (!asking) return null;
    const words = REASON_ACTIONS[asking]();
    return html`<form class="reason-form" data-for=${asking} onSubmit=${(e) => this.submitReason(e)}>
      <label>${words.ask} <input name="reason" required maxlength="500" autocomplete="off" /></label>
      <div class="actions">
        <button type="submit" class="primary" data-action=${`${asking}-submit`} disabled=${busy}>${words.submit}</button>
        <button type="button" data-action="reason-back" onClick=${() => this.setState({ asking: null })}>${gettext("Back")}</button>
      </div>
    </form>`;
  }

  render({ ticket, now }) {
    const routing = ticket.routing || {};
    const late = isLate(ticket, now);
    return html`<li class=${`ticket status-${ticket.status}${late ? " late" : ""}`} data-ticket-id=${ticket.id} data-status=${ticket.status}>
      <div><strong>${subcenterName(ticket.subcenter)}</strong> <span class="muted">${kindName(ticket.subcenter.kind)}</span>
        ${" "}<span class="badge">${ticketStatusLabel(ticket.status)}</span>
        ${late ? html` <span class="badge late">${gettext("overdue")} ${clock(lateBy(ticket, now))}</span>` : null}</div>
      ${routing.rule ? html`<div class="muted">${ruleLabel(routing.rule)}${routing.jurisdiction_name ? ` (${routing.jurisdiction_name})` : ""}</div>` : null}
      <${Stages} ticket=${ticket} />
      ${ticket.reason ? html`<div class="reason">${gettext("Reason:")} ${ticket.reason}</div>` : null}
      <${Checklist} ticket=${ticket} />
      <${Feedback} ticket=${ticket} />
      <div class="actions">${this.buttons(ticket)}</div>
      ${this.reasonForm()}
      ${this.state.error ? html`<p class="error" role="alert">${this.state.error}</p>` : null}
    </li>`;
  }
}

// ---- assigning by hand -------------------------------------------------------------------

// The kind the command center owes an owner: a rejected kind not yet given again, else one nobody owns.
function neededKind(incident) {
  const own = store.ticketsOf(incident.id);
  const rejected = own.filter((r) => r.status === "rejected"
    && !own.some((t) => t.id > r.id && t.subcenter.kind === r.subcenter.kind && t.status !== "rejected")).pop();
  return rejected?.subcenter.kind || (incident.unassigned_kinds || [])[0] || "";
}

function liveTerminal(subcenter) {
  return ui.subcenters.get(subcenter.id)?.terminal || subcenter.terminal;
}

export class AssignForm extends Component {
  constructor(props) {
    super(props);
    this.state = { kind: neededKind(props.incident), list: null, warn: null, busy: false, error: "" };
  }

  componentDidMount() {
    this.load(this.state.kind);
  }

  // Until the dispatcher picks a kind, follow the kind the incident needs (a rejection read later).
  componentDidUpdate() {
    const needed = neededKind(this.props.incident);
    if (!this.kindChosen && needed && needed !== this.state.kind) this.chooseKind(needed);
  }

  // The sub-centers of a kind, nearest the incident first (the server filters and sorts; the kind is
  // filtered here too, so an older server's whole list is still narrowed to the kind).
  async load(kind) {
    const [lon, lat] = this.props.incident.location.coordinates;
    const query = new URLSearchParams({ near: `${lon},${lat}` });
    if (kind) query.set("kind", kind);
    try {
      const answer = await api(`subcenters?${query}`);
      if (kind !== this.state.kind) return;
      this.setState({ list: answer.subcenters.filter((s) => !kind || s.kind === kind) });
    } catch (error) {
      this.setState({ error: error.message, list: [] });
    }
  }

  chooseKind(kind) {
    this.setState({ kind, list: null, warn: null }, () => this.load(kind));
  }

  submit(event) {
    event.preventDefault();
    const code = event.currentTarget.elements.subcenter.value;
    const subcenter = (this.state.list || []).find((s) => s.code === code);
    if (!subcenter) return;
    if (terminalState(liveTerminal(subcenter)) !== "armed" && this.state.warn !== code) {
      this.setState({ warn: code }); // asked in the page, before anything is sent
      return;
    }
    this.assign(code);
  }

  async assign(code) {
    const { incident } = this.props;
    this.setState({ busy: true, error: "" });
    try {
      takeAnswer(await api(`incidents/${incident.id}/assign`, { method: "POST", body: { subcenter: code } }));
      this.setState({ warn: null });
    } catch (error) {
      this.setState({ error: error.message });
    } finally {
      this.setState({ busy: false });
    }
  }

  option(subcenter) {
    const state = terminalState(liveTerminal(subcenter));
    const km = subcenter.distance_m === undefined || subcenter.distance_m === null ? ""
      : ` · ${(subcenter.distance_m / 1000).toFixed(1)} km`;
    return html`<option key=${subcenter.code} value=${subcenter.code} data-terminal=${state}>
      ${subcenterName(subcenter)} (${subcenter.code})${km} · ${terminalLabel(state)}</option>`;
  }

  warning() {
    const subcenter = (this.state.list || []).find((s) => s.code === this.state.warn);
    if (!subcenter) return null;
    const state = terminalState(liveTerminal(subcenter));
    const name = subcenterName(subcenter);
    const text = state === "offline"
      ? interpolate(gettext("The terminal of %(name)s is offline: nobody there sees the ticket until it connects, and its duty phone is called."), { name }, true)
      : interpolate(gettext("The terminal of %(name)s is online but its alarm is not armed: the ticket will not ring there."), { name }, true);
    return html`<div class="warn" id="assign-warning" role="alert" data-terminal=${state}>
      <p>${text}</p>
      <div class="actions">
        <button type="button" class="primary" data-action="assign-anyway" disabled=${this.state.busy}
          onClick=${() => this.assign(subcenter.code)}>${gettext("Assign anyway")}</button>
        <button type="button" data-action="assign-back" onClick=${() => this.setState({ warn: null })}>${gettext("Choose another")}</button>
      </div>
    </div>`;
  }

  render(_props, { kind, list, busy, error }) {
    const kinds = [...ui.kinds.values()].sort((a, b) => a.code.localeCompare(b.code));
    return html`<form class="assign" onSubmit=${(e) => this.submit(e)}>
      <h3>${gettext("Assign by hand")}</h3>
      <label>${gettext("Kind")}
        <select name="kind" value=${kind} onChange=${(e) => { this.kindChosen = true; this.chooseKind(e.currentTarget.value); }}>
          <option value="">${gettext("every kind")}</option>
          ${kinds.map((k) => html`<option key=${k.code} value=${k.code}>${kindName(k.code)}</option>`)}
        </select></label>
      <label>${gettext("Sub-center (nearest first)")}
        <select name="subcenter" aria-label=${gettext("Sub-center")} onChange=${() => this.state.warn && this.setState({ warn: null })}>
          ${(list || []).map((s) => this.option(s))}
        </select></label>
      ${list === null ? html`<p class="muted">${gettext("Loading…")}</p>` : null}
      ${this.warning()}
      <div class="actions"><button type="submit" id="assign-submit" disabled=${busy || !list?.length}>${gettext("Assign")}</button></div>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </form>`;
  }
}
