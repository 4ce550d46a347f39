// The sub-center terminal (处警终端): ring on a new ticket, acknowledge receipt, accept or reject, report.
//
// State lives in the one client store (store.js); Preact renders the list and the detail pane from it, so
// an update never rebuilds what the operator is touching: a ticked box, a typed note, the map's view.

import {
  api, config, nameOf, OPEN_TICKET, textTip, severityLabel, SEVERITY_COLORS, SEVERITY_ROMAN, showConnection, Stages,
  ticketStatusLabel, time,
} from "./common.js";
import { Store, lateBy, nextStep } from "./store.js";
import { Stream } from "./stream.js";
import { Component, createRef, html, render } from "./ui.js";
import { addBaseLayers, centerOn } from "./map.js";
import { PlaceSearch } from "./place_search.js";
import { Alarm, TabSignal, canAskToNotify, notify } from "./alarm.js";

const NEARBY_RADIUS_M = 50000;
const ENDED_SHOWN_MS = 10 * 60 * 1000; // a rejected, closed or cancelled ticket stays this long at most
const TEST_ALARM_MS = 3000;
const ALARM_ON_DISCONNECT_MS = (config.alarmOnDisconnectS ?? 30) * 1000;
const RINGS = new Set(["issued", "delivered"]);
const ENDED_AT = { rejected: "rejected_at", closed: "closed_at", cancelled: "cancelled_at" };
const english = document.documentElement.lang.startsWith("en");

const $ = (id) => document.getElementById(id);
const main = document.querySelector("main.terminal");
const store = new Store();
const missed = []; // tickets that arrived while the connection was down, in order, once each
const local = {
  selected: null, // the ticket id shown in the detail pane
  checks: new Map(), // "ticket:item" → the tick sent and not yet confirmed by an event
  errors: new Map(), // ticket id → the last refusal, as text
  busy: new Set(), // ticket ids with an action in flight
  nearby: new Map(), // incident id → nearby county seats
  testUntil: 0,
};
let stream;
let jurisdictions = null;
const jurisdictionsLoaded = api("jurisdictions?simplify=500").then((data) => (jurisdictions = data)).catch(() => null);

// ---- words -------------------------------------------------------------------------------

const categoryName = (incident) => (english && incident.category_name_en) || incident.category_name || "";

function duration(seconds) {
  return seconds < 120 ? interpolate(gettext("%(n)s s"), { n: Math.round(seconds) }, true)
    : interpolate(gettext("%(n)s min"), { n: Math.round(seconds / 60) }, true);
}

// A refusal as text in the screen's language: a network failure never shows the browser's English.
function errorText(result) {
  if (result instanceof TypeError) return gettext("Could not reach the server.");
  if (result instanceof Error) return result.message;
  return Object.values(result.errors || {}).flat().join(" ") || gettext("Refused.");
}

// ---- the alarm ------------------------------------------------------------------------------

const alarm = new Alarm({ onChange: () => showAlarm() });
const tab = new TabSignal();
window.gdAlarm = alarm; // for tests: alarm.started, alarm.oscillator, alarm.pattern

function disconnected() {
  return Boolean(stream?.downSince) && Date.now() - stream.downSince > ALARM_ON_DISCONNECT_MS;
}

// What must sound now, most urgent first.
function alarmPattern(ringing) {
  if (Date.now() < local.testUntil) return "test";
  if (ringing.length) return "ticket";
  if (disconnected()) return "disconnect";
  return null;
}

function showAlarm() {
  const ringing = store.ringing(config.subcenter_id);
  const pattern = alarmPattern(ringing);
  main.dataset.ringing = String(ringing.length > 0);
  main.dataset.armed = String(alarm.armed);
  main.dataset.alarm = pattern || "";
  $("ringing-banner").hidden = ringing.length === 0;
  $("disconnect-banner").hidden = !disconnected();
  $("arm-gate").hidden = alarm.armed;
  $("arm-gate").classList.toggle("rearm", alarm.wanted && !alarm.armed);
  $("armed-note").hidden = !alarm.armed;
  $("notify").hidden = !canAskToNotify();
  alarm.play(pattern);
  tab.flash({
    test: gettext("Alarm test"), disconnect: gettext("Connection lost"),
    ticket: interpolate(gettext("New ticket (%(n)s)"), { n: ringing.length }, true),
  }[pattern] || null);
}

// ---- actions on the stream ------------------------------------------------------------------

// Acknowledge receipt of one of our tickets still issued; refused (the database away, say): try again.
async function deliver(ticket, tries = 0) {
  if (ticket?.status !== "issued" || ticket.subcenter.id !== config.subcenter_id) return;
  const result = await stream.send({ type: "delivered", ticket: ticket.id });
  if (result.ok) store.settleTicket(ticket.id, "issued", result.status);
  else if (tries < 5) setTimeout(() => deliver(store.tickets.get(ticket.id) ?? ticket, tries + 1), 2000);
}

// After every (re)connect and the database's all-clear: a receipt sent just before a drop may never
// have arrived, and the server takes a repeat as a no-op (PROTOCOL.md, "Re-sent receipts").
function resendReceipts() {
  store.tickets.forEach((ticket) => deliver(ticket));
}

async function act(ticket, frame) {
  const before = store.tickets.get(ticket.id)?.status;
  local.busy.add(ticket.id);
  local.errors.delete(ticket.id);
  store.changed();
  const result = await stream.send({ ...frame, ticket: ticket.id });
  local.busy.delete(ticket.id);
  if (!result.ok) local.errors.set(ticket.id, errorText(result));
  // A feedback result names no status: the ticket keeps the one its events gave it.
  else if (result.status) store.settleTicket(ticket.id, before, result.status);
  store.changed();
  return result.ok;
}

// A tick is an event (ticket.checked): shown at once, kept until an event confirms it, undone if refused.
async function check(ticket, item, done) {
  const key = `${ticket.id}:${item}`;
  local.checks.set(key, done);
  local.errors.delete(ticket.id);
  store.changed();
  const result = await stream.send({ type: "check", ticket: ticket.id, item, done });
  if (!result.ok) {
    local.checks.delete(key);
    local.errors.set(ticket.id, `${gettext("The tick was not saved:")} ${errorText(result)}`);
  }
  store.changed();
}

function ticked(ticket, item) {
  const key = `${ticket.id}:${item}`;
  return local.checks.has(key) ? local.checks.get(key) : (ticket.checklist_done || []).includes(item);
}

function forgetConfirmedTicks(ticket) {
  for (const [key, done] of local.checks) {
    const [id, item] = key.split(":").map(Number);
    if (id === ticket.id && (ticket.checklist_done || []).includes(item) === done) local.checks.delete(key);
  }
}

function select(ticketId) {
  local.selected = ticketId;
  const ticket = store.tickets.get(ticketId);
  if (ticket && !local.nearby.has(ticket.incident_id)) {
    local.nearby.set(ticket.incident_id, []);
    api(`incidents/${ticket.incident_id}/nearby?layer=county_seats&radius_m=${NEARBY_RADIUS_M}&limit=5`)
      .then((data) => { local.nearby.set(ticket.incident_id, data.features); store.changed(); })
      .catch(() => {});
  }
  store.changed();
}

// ---- what is shown --------------------------------------------------------------------------

// Open tickets, and an ended one (rejected, closed, cancelled) for 10 minutes or until its incident is
// closed; a reload shows only open ones (the snapshot holds no other).
function shown(ticket, now) {
  if (OPEN_TICKET.has(ticket.status)) return true;
  const endedAt = ticket[ENDED_AT[ticket.status]];
  if (!endedAt || now - Date.parse(endedAt) > ENDED_SHOWN_MS) return false;
  return store.incidents.get(ticket.incident_id)?.status !== "closed";
}

function visibleTickets(now) {
  return [...store.tickets.values()].filter((t) => shown(t, now))
    .sort((a, b) => (RINGS.has(b.status) - RINGS.has(a.status)) || b.id - a.id);
}

// ---- rendering ------------------------------------------------------------------------------

// The deadline badge: late when the move is the sub-center's; when it is the command center's, a wait.
function Timing({ ticket, now }) {
  const step = nextStep(ticket);
  if (!OPEN_TICKET.has(ticket.status) || !step) return null;
  if (step.whose === "us") return html`<span class="badge waiting">${gettext("waiting for the command center")}</span>`;
  const late = lateBy(ticket, now);
  if (late <= 0) return null;
  return html`<span class="badge late">${gettext("overdue")}${late > 1 ? ` · ${duration(late)}` : ""}</span>`;
}

class Actions extends Component {
  constructor() {
    super();
    this.reason = createRef();
    this.note = createRef();
  }

  reject() {
    const input = this.reason.current;
    if (!input.value.trim()) {
      input.focus();
      input.setCustomValidity(gettext("Give a reason"));
      input.reportValidity();
      return;
    }
    act(this.props.ticket, { type: "reject", reason: input.value.trim() });
  }

  async report(final) {
    const note = this.note.current;
    if (!note.value.trim()) return note.focus();
    if (await act(this.props.ticket, { type: "feedback", text: note.value.trim(), final })) note.value = "";
  }

  render({ ticket }) {
    const busy = local.busy.has(ticket.id);
    if (RINGS.has(ticket.status)) {
      return html`<div class="actions">
        <button key="accept" type="button" class="primary big" data-action="accept" disabled=${busy}
          onClick=${() => act(ticket, { type: "accept" })}>${gettext("Accept")}</button>
        <input key="reason" ref=${this.reason} name="reason" placeholder=${gettext("Reason for rejecting")}
          aria-label=${gettext("Reason for rejecting")} onInput=${(e) => e.target.setCustomValidity("")} />
        <button key="reject" type="button" data-action="reject" disabled=${busy} onClick=${() => this.reject()}>${gettext("Reject")}</button>
      </div>`;
    }
    if (ticket.status !== "accepted" && ticket.status !== "confirmed") return null;
    // Uncontrolled, under a stable key: an unsent note survives every update.
    return html`<div class="actions">
      <textarea key="note" ref=${this.note} name="feedback" rows="2" placeholder=${gettext("Progress report")}
        aria-label=${gettext("Progress report")}></textarea>
      <button key="progress" type="button" data-action="feedback" disabled=${busy} onClick=${() => this.report(false)}>${gettext("Send progress")}</button>
      ${ticket.status === "confirmed" ? html`<button key="final" type="button" class="primary" data-action="final" disabled=${busy}
        onClick=${() => this.report(true)}>${gettext("Send final report")}</button>` : null}
    </div>`;
  }
}

function TicketItem({ ticket, now }) {
  const incident = store.incidents.get(ticket.incident_id) || {};
  const step = nextStep(ticket);
  const late = OPEN_TICKET.has(ticket.status) && step?.whose === "them" && lateBy(ticket, now) > 0;
  const classes = ["ticket", `status-${ticket.status}`, RINGS.has(ticket.status) && "ringing", late && "late",
    ticket.id === local.selected && "selected"].filter(Boolean).join(" ");
  const feedback = store.feedback.get(ticket.id) || [];
  const error = local.errors.get(ticket.id);
  return html`<li class=${classes} data-ticket-id=${ticket.id} data-status=${ticket.status}>
    <div class="head" onClick=${() => select(ticket.id)}>
      <span class="sev sev-${incident.severity}">${SEVERITY_ROMAN[incident.severity] || "?"}</span>${" "}
      <strong class="title">${incident.title || `#${ticket.incident_id}`}</strong>${" "}
      <span class="badge">${ticketStatusLabel(ticket.status)}</span>
      <${Timing} ticket=${ticket} now=${now} />
      <span class="muted meta">${[categoryName(incident), incident.address, time(ticket.issued_at)].filter(Boolean).join(" · ")}</span>
    </div>
    <${Stages} ticket=${ticket} />
    ${ticket.reason ? html`<div class="reason">${gettext("Reason:")} ${ticket.reason}</div>` : null}
    ${feedback.length ? html`<ul class="feedback">${feedback.map((f, i) =>
      html`<li key=${f.id ?? i} class=${f.final ? "final" : ""}><time>${time(f.created_at)}</time> ${f.text}</li>`)}</ul>` : null}
    <${Actions} ticket=${ticket} />
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </li>`;
}

// The incident on our own jurisdictions, zoomed to the smallest one around it. Created once per
// incident and never re-rendered: the operator's zoom and pan survive every update.
class DetailMap extends Component {
  componentDidMount() {
    const { incident } = this.props;
    const [lon, lat] = incident.location.coordinates;
    const map = L.map(this.base, { attributionControl: false }).setView([lat, lon], 11);
    this.map = map;
    addBaseLayers(map, { switcher: false }).then(() => this.marker.bringToFront()).catch(() => {});
    this.marker = L.circleMarker([lat, lon], {
      radius: 9, color: "#fff", weight: 2, fillColor: SEVERITY_COLORS[incident.severity], fillOpacity: 0.9,
    }).addTo(map);
    window.gdDetailMap = map; // for tests
    this.showNearby(this.props.nearby);
    jurisdictionsLoaded.then(() => this.showJurisdictions([lat, lon]));
    requestAnimationFrame(() => this.map?.invalidateSize());
  }

  showJurisdictions(point) {
    if (!this.map) return;
    if (!jurisdictions) { this.base.dataset.fitted = "true"; return; }
    const layer = L.geoJSON(jurisdictions, { style: { color: "#37474f", weight: 1, fillColor: "#cfd8dc", fillOpacity: 0.2 } });
    layer.addTo(this.map);
    this.marker.bringToFront();
    if (!this.touched) { // else the operator has moved the map meanwhile
      const around = layer.getLayers().map((l) => l.getBounds()).filter((b) => b.contains(point));
      const area = (b) => (b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest());
      const smallest = around.sort((a, b) => area(a) - area(b))[0];
      if (smallest) this.map.fitBounds(smallest.pad(0.05), { animate: false });
    }
    this.base.dataset.fitted = "true";
  }

  // The nearest facilities (GET incidents/{id}/nearby), each a small labelled square.
  showNearby(features) {
    if (!this.map || this.nearbyShown === features) return;
    this.nearbyShown = features;
    this.nearby?.remove();
    this.nearby = L.layerGroup((features || []).filter((f) => f.geometry?.type === "Point").map((f) => {
      const [lon, lat] = f.geometry.coordinates;
      return L.circleMarker([lat, lon], { radius: 5, color: "#263238", weight: 1, fillColor: "#fff", fillOpacity: 1, className: "nearby-marker" })
        .bindTooltip(textTip(f.properties.name || ""));
    })).addTo(this.map);
  }

  shouldComponentUpdate(next) {
    this.showNearby(next.nearby);
    if (next.incident.severity !== this.props.incident.severity) {
      this.marker.setStyle({ fillColor: SEVERITY_COLORS[next.incident.severity] });
    }
    return false;
  }

  componentWillUnmount() {
    this.map?.remove();
    this.map = null;
  }

  render() {
    return html`<div class="map detail-map" id="detail-map" onPointerDown=${() => { this.touched = true; }}
      onWheel=${() => { this.touched = true; }}></div>`;
  }
}

function Checklist({ ticket }) {
  const open = OPEN_TICKET.has(ticket.status) && !RINGS.has(ticket.status);
  return html`<ol class="checklist">${(ticket.checklist || []).map((item, i) => html`<li key=${i}>
    <label><input type="checkbox" data-item=${i} checked=${ticked(ticket, i)} disabled=${!open}
      onChange=${(e) => check(ticket, i, e.target.checked)} /> ${typeof item === "string" ? item : item.text || JSON.stringify(item)}</label>
  </li>`)}</ol>`;
}

function Detail({ ticket }) {
  const incident = ticket && store.incidents.get(ticket.incident_id);
  if (!incident) return html`<section class="card detail" id="detail" hidden></section>`;
  const reporter = [incident.reporter_name, incident.reporter_phone].filter(Boolean).join(" ");
  return html`<section class="card detail" id="detail" data-detail-ticket=${ticket.id}>
    <h2 class="title">${incident.title}</h2>
    <p>${severityLabel(incident.severity)} · ${categoryName(incident)} · ${nameOf(ticket.subcenter)}</p>
    ${incident.address ? html`<p>${gettext("Address:")} ${incident.address}</p>` : null}
    ${incident.description ? html`<p class="description">${incident.description}</p>` : null}
    ${reporter ? html`<p>${gettext("Reporter:")} ${reporter}</p>` : null}
    <${PlaceSearch} map=${() => window.gdDetailMap} onChoose=${(r) => window.gdDetailMap && centerOn(window.gdDetailMap, r)} />
    <${DetailMap} key=${incident.id} incident=${incident} nearby=${local.nearby.get(incident.id)} />
    <h3>${gettext("Checklist")}</h3>
    <${Checklist} key=${`checklist-${ticket.id}`} ticket=${ticket} />
    <h3>${gettext("Nearby county seats")}</h3>
    <ul>${(local.nearby.get(incident.id) || []).map((f) =>
      html`<li key=${f.id ?? f.properties.name}>${f.properties.name} — ${(f.properties.distance_m / 1000).toFixed(1)} km</li>`)}</ul>
  </section>`;
}

class Terminal extends Component {
  componentDidMount() {
    this.unsubscribe = store.subscribe(() => { this.forceUpdate(); showAlarm(); });
    this.clock = setInterval(() => this.forceUpdate(), 5000); // deadlines pass without events
  }

  render() {
    const now = Date.now();
    const tickets = visibleTickets(now);
    const selected = local.selected !== null ? store.tickets.get(local.selected) : null;
    return html`<div class="terminal-panes">
      <section class="tickets">
        <ul id="tickets" class="list">${tickets.length
          ? tickets.map((t) => html`<${TicketItem} key=${t.id} ticket=${t} now=${now} />`)
          : html`<li class="muted">${gettext("No open tickets.")}</li>`}</ul>
      </section>
      <${Detail} ticket=${selected && shown(selected, now) ? selected : null} />
    </div>`;
  }
}

class Missed extends Component {
  componentDidMount() { this.unsubscribe = store.subscribe(() => this.forceUpdate()); }

  render() {
    return missed.map((id) => {
      const ticket = store.tickets.get(id);
      const incident = store.incidents.get(ticket?.incident_id) || {};
      return html`<li key=${id} data-ticket-id=${id}>${incident.title || `#${id}`} · ${time(ticket?.issued_at)}</li>`;
    });
  }
}

// ---- events -----------------------------------------------------------------------------------

function onEvent(event, { replayed }) {
  const ticket = event.payload?.ticket;
  if (event.name === "ticket.issued" && replayed && !missed.includes(event.ticket_id)) missed.push(event.ticket_id);
  if (event.name === "ticket.overdue" && event.payload?.level === 1) alarm.loud = true;
  if (ticket) forgetConfirmedTicks(ticket);
  if (event.name === "ticket.issued" && ticket?.subcenter.id === config.subcenter_id) {
    deliver(ticket);
    const incident = store.incidents.get(ticket.incident_id) || {};
    notify(gettext("New ticket — accept or reject"), incident.title || `#${ticket.incident_id}`, `gd-ticket-${ticket.id}`);
  }
  if (!store.ringing(config.subcenter_id).length) alarm.loud = false;
}

// ---- start ------------------------------------------------------------------------------------

function start() {
  $("arm").addEventListener("click", async () => {
    await alarm.arm();
    stream.heartbeat(); // tell the command center at once
  });
  $("test-alarm").addEventListener("click", async () => {
    await alarm.arm();
    local.testUntil = Date.now() + TEST_ALARM_MS;
    showAlarm();
    setTimeout(showAlarm, TEST_ALARM_MS + 50);
  });
  $("notify").addEventListener("click", () => Notification.requestPermission().then(showAlarm));
  store.onEvent(onEvent);
  stream = new Stream({
    onSnapshot: (snapshot) => store.applySnapshot(snapshot),
    onEvent: (event, context) => store.applyEvent(event, context),
    onState: (state, detail) => {
      showConnection(state, detail);
      if (state === "online") resendReceipts(); // the server reads them after it has sent the replay
      showAlarm();
    },
    onDatabase: (up) => { if (up) resendReceipts(); }, // receipts refused while it was away
    health: () => ({ audio_armed: alarm.armed }),
  });
  render(html`<${Terminal} />`, $("terminal-app"));
  render(html`<${Missed} />`, $("missed"));
  window.gdStream = stream.start();
  window.gdTerminal = { store, local };
  alarm.rearm();
  setInterval(showAlarm, 1000); // the disconnect alarm starts without an event
  showAlarm();
  document.body.dataset.ready = "true";
}

start();
