// The sub-center terminal (处警终端): ring on a new ticket, acknowledge receipt, accept or reject, report.

import {
  api, config, h, OPEN_TICKET, severityLabel, SEVERITY_COLORS, SEVERITY_ROMAN, showConnection, stageSteps,
  ticketStatusLabel, time,
} from "./common.js";
import { Stream } from "./stream.js";

const NEARBY_RADIUS_M = 50000;
const tickets = new Map();
const incidents = new Map();
const missed = []; // tickets that arrived while the connection was down, in order, once each
let selected = null;
let stream;

const $ = (id) => document.getElementById(id);
const main = document.querySelector("main.terminal");

// ---- the alarm: Web Audio, no audio file ---------------------------------------------

const alarm = {
  context: null, oscillator: null, gain: null, timer: null, started: 0, loud: false,
  get armed() { return this.context !== null && this.context.state === "running"; },

  async arm() {
    this.context = this.context || new AudioContext();
    await this.context.resume();
    main.dataset.armed = String(this.armed);
  },

  start() {
    if (this.oscillator || !this.context) return;
    this.gain = this.context.createGain();
    this.gain.gain.value = 0;
    this.oscillator = this.context.createOscillator();
    this.oscillator.type = "square";
    this.oscillator.frequency.value = 880;
    this.oscillator.connect(this.gain).connect(this.context.destination);
    this.oscillator.start();
    this.started += 1;
    let on = false;
    this.timer = setInterval(() => {
      on = !on;
      this.gain.gain.setValueAtTime(on ? (this.loud ? 0.6 : 0.25) : 0, this.context.currentTime);
      this.oscillator.frequency.setValueAtTime(on ? 880 : 660, this.context.currentTime);
    }, 350);
  },

  stop() {
    clearInterval(this.timer);
    this.oscillator?.stop();
    this.oscillator?.disconnect();
    this.oscillator = null;
    this.loud = false;
  },
};
window.gdAlarm = alarm; // for tests: alarm.started, alarm.oscillator

function ringing() {
  return [...tickets.values()].filter((t) => t.status === "issued" || t.status === "delivered");
}

function updateRinging() {
  const ring = ringing().length > 0;
  main.dataset.ringing = String(ring);
  $("ringing-banner").hidden = !ring;
  if (ring && alarm.armed) alarm.start();
  else alarm.stop();
}

// ---- state -------------------------------------------------------------------------

async function deliver(ticket, tries = 0) {
  if (ticket.status !== "issued" || ticket.subcenter.id !== config.subcenter_id) return;
  const result = await stream.send({ type: "delivered", ticket: ticket.id });
  if (result.ok && tickets.get(ticket.id)?.status === "issued") upsertTicket({ id: ticket.id, status: result.status });
  // Refused (the database away, say): try again shortly; the all-clear and every reconnect re-send too.
  else if (!result.ok && tries < 5) setTimeout(() => deliver(tickets.get(ticket.id) ?? ticket, tries + 1), 2000);
  render();
}

// After every (re)connect: a receipt sent just before a drop may never have arrived, and the
// server takes a repeat as a no-op (PROTOCOL.md, "Re-sent receipts").
function resendReceipts() {
  tickets.forEach(deliver);
}

function upsertTicket(ticket) {
  const known = tickets.get(ticket.id);
  // A result frame carries only the status; the event that follows carries the whole ticket.
  tickets.set(ticket.id, known ? { ...known, ...ticket } : ticket);
}

function applySnapshot(snapshot) {
  tickets.clear();
  snapshot.incidents.forEach((i) => incidents.set(i.id, i));
  snapshot.tickets.forEach(upsertTicket);
  render();
}

function applyEvent(event, { replayed }) {
  const payload = event.payload || {};
  if (payload.incident) incidents.set(payload.incident.id, payload.incident);
  if (payload.ticket) upsertTicket(payload.ticket);
  if (payload.feedback && event.ticket_id) {
    const ticket = tickets.get(event.ticket_id);
    ticket.feedback = [...(ticket.feedback || []), payload.feedback];
  }
  if (event.name === "ticket.issued" && replayed && !missed.includes(event.ticket_id)) missed.push(event.ticket_id);
  if (event.name === "ticket.overdue" && payload.level === 1) alarm.loud = true;
  render();
  if (event.name === "ticket.issued") deliver(payload.ticket);
}

// ---- rendering ---------------------------------------------------------------------

function actions(ticket) {
  const list = [];
  const send = (frame, button) => async () => {
    button.disabled = true;
    const before = tickets.get(ticket.id).status;
    const result = await stream.send({ ...frame, ticket: ticket.id });
    button.disabled = false;
    if (!result.ok) alert(Object.values(result.errors || {}).flat().join(" "));
    // A feedback result names no status: the ticket keeps the one its events gave it.
    else if (result.status && tickets.get(ticket.id).status === before) upsertTicket({ id: ticket.id, status: result.status });
    render();
  };
  if (ticket.status === "issued" || ticket.status === "delivered") {
    const accept = h("button", { type: "button", class: "primary big", dataset: { action: "accept" } }, gettext("Accept"));
    accept.addEventListener("click", send({ type: "accept" }, accept));
    const reason = h("input", { name: "reason", placeholder: gettext("Reason for rejecting"), "aria-label": gettext("Reason for rejecting") });
    const reject = h("button", { type: "button", dataset: { action: "reject" } }, gettext("Reject"));
    reject.addEventListener("click", () => {
      if (!reason.value.trim()) { reason.focus(); reason.setCustomValidity(gettext("Give a reason")); reason.reportValidity(); return; }
      send({ type: "reject", reason: reason.value.trim() }, reject)();
    });
    reason.addEventListener("input", () => reason.setCustomValidity(""));
    list.push(accept, reason, reject);
  }
  if (ticket.status === "accepted" || ticket.status === "confirmed") {
    const text = h("textarea", { name: "feedback", rows: 2, placeholder: gettext("Progress report"), "aria-label": gettext("Progress report") });
    const progress = h("button", { type: "button", dataset: { action: "feedback" } }, gettext("Send progress"));
    progress.addEventListener("click", async () => {
      if (!text.value.trim()) return text.focus();
      await send({ type: "feedback", text: text.value.trim(), final: false }, progress)();
    });
    list.push(text, progress);
    if (ticket.status === "confirmed") {
      const final = h("button", { type: "button", class: "primary", dataset: { action: "final" } }, gettext("Send final report"));
      final.addEventListener("click", async () => {
        if (!text.value.trim()) return text.focus();
        await send({ type: "feedback", text: text.value.trim(), final: true }, final)();
      });
      list.push(final);
    } else {
      list.push(h("span", { class: "muted" }, gettext("Waiting for the command center to confirm.")));
    }
  }
  return h("div", { class: "actions" }, list);
}

function ticketItem(ticket) {
  const incident = incidents.get(ticket.incident_id) || {};
  const ring = ticket.status === "issued" || ticket.status === "delivered";
  return h("li", {
    class: `ticket status-${ticket.status}${ring ? " ringing" : ""}${ticket.overdue ? " late" : ""}${ticket.id === selected ? " selected" : ""}`,
    dataset: { ticketId: ticket.id, status: ticket.status },
  },
  h("div", { class: "head", onclick: () => select(ticket.id) },
    h("span", { class: `sev sev-${incident.severity}` }, SEVERITY_ROMAN[incident.severity] || "?"), " ",
    h("strong", { class: "title" }, incident.title || `#${ticket.incident_id}`), " ",
    h("span", { class: "badge" }, ticketStatusLabel(ticket.status)),
    ticket.overdue ? h("span", { class: "badge late" }, gettext("overdue")) : null,
    h("span", { class: "muted" }, " ", [incident.category_name, incident.address, time(ticket.issued_at)].filter(Boolean).join(" · "))),
  stageSteps(ticket),
  ticket.reason ? h("div", { class: "reason" }, gettext("Reason:"), " ", ticket.reason) : null,
  (ticket.feedback || []).length ? h("ul", { class: "feedback" }, ticket.feedback.map((f) =>
    h("li", { class: f.final ? "final" : "" }, h("time", {}, time(f.created_at)), " ", f.text))) : null,
  actions(ticket));
}

let queued = false;
function render() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    const visible = [...tickets.values()]
      .filter((t) => OPEN_TICKET.has(t.status) || t.status === "rejected")
      .sort((a, b) => (ringing().includes(b) - ringing().includes(a)) || b.id - a.id);
    // Keep what the operator is typing: only re-render the list when something changed.
    const focused = document.activeElement?.closest?.("[data-ticket-id]");
    if (!focused || !document.activeElement.matches("input, textarea")) {
      $("tickets").replaceChildren(...(visible.length ? visible.map(ticketItem) : [h("li", { class: "muted" }, gettext("No open tickets."))]));
    }
    $("missed").replaceChildren(...missed.map((id) => {
      const ticket = tickets.get(id);
      const incident = incidents.get(ticket?.incident_id) || {};
      return h("li", { dataset: { ticketId: id } }, incident.title || `#${id}`, " · ", time(ticket?.issued_at));
    }));
    if (selected !== null) renderDetail();
    updateRinging();
  });
}

// ---- detail: a small map, the checklist, nearby resources ------------------------------

let detailMap = null;
const nearby = new Map();

async function select(ticketId) {
  selected = ticketId;
  const ticket = tickets.get(ticketId);
  if (!nearby.has(ticket.incident_id)) {
    nearby.set(ticket.incident_id, []);
    api(`incidents/${ticket.incident_id}/nearby?layer=county_seats&radius_m=${NEARBY_RADIUS_M}&limit=5`)
      .then((data) => { nearby.set(ticket.incident_id, data.features); render(); })
      .catch(() => {});
  }
  render();
}

function renderDetail() {
  const ticket = tickets.get(selected);
  const incident = incidents.get(ticket?.incident_id);
  const box = $("detail");
  if (!ticket || !incident) { box.hidden = true; return; }
  box.hidden = false;
  const mapBox = h("div", { class: "map small", id: "detail-map" });
  box.replaceChildren(...[
    h("h2", {}, incident.title),
    h("p", {}, severityLabel(incident.severity), " · ", incident.category_name),
    incident.address ? h("p", {}, gettext("Address:"), " ", incident.address) : null,
    incident.description ? h("p", {}, incident.description) : null,
    incident.reporter_name || incident.reporter_phone ? h("p", {}, gettext("Reporter:"), " ", incident.reporter_name, " ", incident.reporter_phone) : null,
    mapBox,
    h("h3", {}, gettext("Checklist")),
    h("ol", { class: "checklist" }, (ticket.checklist || []).map((item) =>
      h("li", {}, h("label", {}, h("input", { type: "checkbox" }), " ", typeof item === "string" ? item : item.text || JSON.stringify(item))))),
    h("h3", {}, gettext("Nearby county seats")),
    h("ul", {}, (nearby.get(incident.id) || []).map((f) => h("li", {}, f.properties.name, " — ", `${(f.properties.distance_m / 1000).toFixed(1)} km`))),
  ].filter(Boolean));
  detailMap?.remove();
  const [lon, lat] = incident.location.coordinates;
  detailMap = L.map(mapBox, { attributionControl: false }).setView([lat, lon], 11);
  if (config.tileUrl) L.tileLayer(config.tileUrl).addTo(detailMap);
  L.circleMarker([lat, lon], { radius: 9, color: "#fff", weight: 2, fillColor: SEVERITY_COLORS[incident.severity], fillOpacity: 0.9 }).addTo(detailMap);
  if (jurisdictions) L.geoJSON(jurisdictions, { style: { color: "#37474f", weight: 1, fillOpacity: 0.1 } }).addTo(detailMap);
}

let jurisdictions = null;

// ---- start -------------------------------------------------------------------------

function start() {
  $("arm").addEventListener("click", async () => {
    await alarm.arm();
    $("arm-gate").hidden = alarm.armed;
    $("armed-note").hidden = !alarm.armed;
    stream.heartbeat(); // tell the command center at once
    updateRinging();
  });
  stream = new Stream({
    onSnapshot: applySnapshot, onEvent: applyEvent,
    onState: (state, detail) => {
      showConnection(state, detail);
      if (state === "online") resendReceipts(); // the server reads them after it has sent the replay
    },
    onDatabase: (up) => { if (up) resendReceipts(); }, // receipts refused while it was away
    health: () => ({ audio_armed: alarm.armed }),
  });
  window.gdStream = stream.start();
  api("jurisdictions?simplify=500").then((data) => { jurisdictions = data; }).catch(() => {});
  document.body.dataset.ready = "true";
}

start();
