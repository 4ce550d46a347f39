// The command console (指挥台): log incidents on the map, watch the acknowledgements, confirm, assign, close.

import {
  api, ApiError, baseMap, config, h, incidentMarker, incidentStatusLabel, OPEN_TICKET, ruleLabel,
  severityLabel, SEVERITY_ROMAN, showConnection, stageSteps, textTip, ticketStatusLabel, time,
} from "./common.js";
import { Stream } from "./stream.js";

const NEARBY_RADIUS_M = 50000;
const incidents = new Map();
const tickets = new Map();
const feedback = new Map(); // ticket id → [feedback]
const markers = new Map();
let subcenters = [];
let categories = [];
let selected = null;
let map;

const $ = (id) => document.getElementById(id);

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "console-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function isLate(ticket) {
  return ticket.overdue || (OPEN_TICKET.has(ticket.status) && ticket.due_at && new Date(ticket.due_at) < new Date());
}

// ---- state -------------------------------------------------------------------------

function upsertIncident(incident) {
  incidents.set(incident.id, { ...incidents.get(incident.id), ...incident });
}

// The stream is the source of order: a REST answer may be older than an event already applied.
const ticketSeq = new Map(); // ticket id → seq of the last event applied to it

function upsertTicket(ticket, seq = null) {
  if (seq !== null) ticketSeq.set(ticket.id, Math.max(seq, ticketSeq.get(ticket.id) || 0));
  tickets.set(ticket.id, ticket);
}

// Apply a ticket read over REST as of `seq` (null: unknown) unless an event has already moved it on.
function upsertTicketRead(ticket, seq = null) {
  const known = ticketSeq.get(ticket.id);
  if (known === undefined || (seq !== null && seq >= known)) upsertTicket(ticket, seq);
}

function addFeedback(item) {
  const list = feedback.get(item.ticket_id) || [];
  if (!list.some((f) => f.id === item.id && item.id !== undefined)) list.push(item);
  feedback.set(item.ticket_id, list);
}

function ticketsOf(incidentId) {
  return [...tickets.values()].filter((t) => t.incident_id === incidentId).sort((a, b) => a.id - b.id);
}

function applySnapshot(snapshot) {
  incidents.clear();
  tickets.clear();
  snapshot.incidents.forEach(upsertIncident);
  ticketSeq.clear();
  snapshot.tickets.forEach((ticket) => upsertTicket(ticket, snapshot.seq));
  render();
}

function applyEvent(event) {
  const payload = event.payload || {};
  if (payload.incident) upsertIncident(payload.incident);
  if (payload.ticket) upsertTicket(payload.ticket, event.seq);
  if (payload.feedback) addFeedback({ ...payload.feedback, ticket_id: event.ticket_id });
  if (event.name === "terminal.presence") updateHealth(payload);
  if (event.name === "ticket.overdue") flash(event.ticket_id);
  if (event.name === "notice.failed") addFailedNotice(payload.notice);
  render();
}

// ---- rendering ---------------------------------------------------------------------

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderMarkers();
    renderIncidentList();
    renderAttention();
    if (selected !== null) renderDetail();
  });
}

function renderMarkers() {
  for (const [id, incident] of incidents) {
    markers.get(id)?.remove();
    const late = ticketsOf(id).some(isLate);
    const marker = incidentMarker(incident, { overdue: late })
      .bindTooltip(textTip(SEVERITY_ROMAN[incident.severity], " · ", incident.title, " · ", incidentStatusLabel(incident.status)))
      .on("click", () => select(id));
    marker.addTo(map);
    markers.set(id, marker);
  }
}

function ticketChip(ticket) {
  return h("span", { class: `chip status-${ticket.status}${isLate(ticket) ? " late" : ""}`, dataset: { ticketId: ticket.id } },
    ticket.subcenter.name, " · ", ticketStatusLabel(ticket.status));
}

function incidentItem(incident) {
  const own = ticketsOf(incident.id);
  return h("li", {
    class: `incident sev-${incident.severity}${own.some(isLate) ? " late" : ""}${incident.id === selected ? " selected" : ""}`,
    dataset: { incidentId: incident.id, status: incident.status }, tabindex: 0,
    onclick: () => select(incident.id), onkeydown: (e) => e.key === "Enter" && select(incident.id),
  },
  h("span", { class: `sev sev-${incident.severity}` }, SEVERITY_ROMAN[incident.severity]),
  h("strong", {}, incident.title), " ",
  h("span", { class: "muted" }, incident.category_name, " · ", incidentStatusLabel(incident.status), " · ", time(incident.reported_at)),
  h("div", { class: "chips" }, own.map(ticketChip)));
}

function renderIncidentList() {
  const open = [...incidents.values()].filter((i) => i.status !== "closed").sort((a, b) => b.id - a.id);
  $("incidents").replaceChildren(...(open.length ? open.map(incidentItem) : [h("li", { class: "muted" }, gettext("No open incidents."))]));
}

function needsOwner(incident) {
  if (incident.status === "closed") return false;
  if (incident.status === "triage") return true;
  const own = ticketsOf(incident.id);
  const rejected = own.filter((t) => t.status === "rejected");
  // A rejection is handled once a later ticket of the same kind exists.
  return rejected.some((r) => !own.some((t) => t.id > r.id && t.subcenter.kind === r.subcenter.kind && t.status !== "rejected"));
}

function renderAttention() {
  const items = [];
  for (const incident of incidents.values()) {
    if (needsOwner(incident)) {
      const reason = incident.status === "triage" ? gettext("triage: no owner found") : gettext("rejected by the sub-center");
      items.push(h("li", { class: "attention owner", dataset: { incidentId: incident.id }, onclick: () => select(incident.id) },
        h("strong", {}, incident.title), " — ", reason));
    }
  }
  for (const ticket of tickets.values()) {
    if (isLate(ticket) && incidents.get(ticket.incident_id)?.status !== "closed") {
      items.push(h("li", { class: "attention late", dataset: { ticketId: ticket.id }, onclick: () => select(ticket.incident_id) },
        h("strong", {}, ticket.subcenter.name), " — ", gettext("overdue"), " (", ticketStatusLabel(ticket.status), ")"));
    }
  }
  $("attention").replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, gettext("Nothing needs attention."))]));
}

function ticketActions(ticket) {
  const act = (label, action, cls = "") =>
    h("button", { type: "button", class: cls, dataset: { action, ticketId: ticket.id }, onclick: (e) => ticketAction(e.target, ticket.id, action) }, label);
  const buttons = [];
  if (ticket.status === "accepted") buttons.push(act(gettext("Confirm"), "confirm", "primary"));
  if (ticket.status === "resolved") buttons.push(act(gettext("Close ticket"), "close", "primary"));
  return buttons;
}

function ticketBlock(ticket) {
  const items = feedback.get(ticket.id) || [];
  const routing = ticket.routing || {};
  return h("li", { class: `ticket status-${ticket.status}${isLate(ticket) ? " late" : ""}`, dataset: { ticketId: ticket.id, status: ticket.status } },
    h("div", {}, h("strong", {}, ticket.subcenter.name), " ", h("span", { class: "badge" }, ticketStatusLabel(ticket.status)),
      isLate(ticket) ? h("span", { class: "badge late" }, gettext("overdue")) : null),
    routing.rule ? h("div", { class: "muted" }, ruleLabel(routing.rule), routing.jurisdiction_name ? ` (${routing.jurisdiction_name})` : "") : null,
    stageSteps(ticket),
    ticket.reason ? h("div", { class: "reason" }, gettext("Reason:"), " ", ticket.reason) : null,
    items.length ? h("ul", { class: "feedback" }, items.map((f) =>
      h("li", { class: f.final ? "final" : "" }, h("time", {}, time(f.created_at)), " ", f.final ? h("strong", {}, gettext("Final:"), " ") : null, f.text))) : null,
    h("div", { class: "actions" }, ticketActions(ticket)));
}

function renderDetail() {
  const incident = incidents.get(selected);
  const box = $("detail");
  if (!incident) { box.hidden = true; return; }
  const own = ticketsOf(incident.id);
  const canClose = incident.status !== "closed" && own.length > 0 && own.every((t) => ["closed", "rejected", "cancelled"].includes(t.status));
  box.hidden = false;
  box.dataset.incidentId = incident.id;
  box.dataset.status = incident.status;
  box.replaceChildren(...[
    h("h2", {}, h("span", { class: `sev sev-${incident.severity}` }, SEVERITY_ROMAN[incident.severity]), " ", incident.title),
    h("p", { class: "muted" }, incident.category_name, " · ", severityLabel(incident.severity), " · ", incidentStatusLabel(incident.status)),
    incident.address ? h("p", {}, gettext("Address:"), " ", incident.address) : null,
    incident.reporter_name || incident.reporter_phone ? h("p", {}, gettext("Reporter:"), " ", incident.reporter_name, " ", incident.reporter_phone) : null,
    incident.description ? h("p", {}, incident.description) : null,
    h("ul", { class: "tickets" }, own.map(ticketBlock)),
    assignForm(incident),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "close-incident", disabled: !canClose, onclick: (e) => closeIncident(e.target, incident.id) }, gettext("Close incident"))),
    h("h3", {}, gettext("Nearby county seats")),
    h("ul", { class: "nearby", id: "nearby" }, nearbyCache.get(incident.id) || h("li", { class: "muted" }, "…")),
  ].filter(Boolean));
}

function assignForm(incident) {
  if (incident.status === "closed") return null;
  const select = h("select", { name: "subcenter", "aria-label": gettext("Sub-center") },
    subcenters.map((s) => h("option", { value: s.code }, `${s.name} (${s.code})`)));
  return h("form", { class: "assign", onsubmit: (e) => { e.preventDefault(); assign(e.target, incident.id, select.value); } },
    h("label", {}, gettext("Assign by hand:"), " ", select), " ", h("button", { type: "submit", id: "assign-submit" }, gettext("Assign")));
}

const nearbyCache = new Map();

async function loadNearby(incidentId) {
  try {
    const data = await api(`incidents/${incidentId}/nearby?layer=county_seats&radius_m=${NEARBY_RADIUS_M}&limit=5`);
    nearbyCache.set(incidentId, data.features.length
      ? data.features.map((f) => h("li", {}, f.properties.name, " — ", `${(f.properties.distance_m / 1000).toFixed(1)} km`))
      : [h("li", { class: "muted" }, gettext("None within 50 km."))]);
  } catch (error) {
    nearbyCache.set(incidentId, [h("li", { class: "error" }, error.message)]);
  }
  render();
}

async function select(incidentId) {
  selected = incidentId;
  render();
  const detail = await api(`incidents/${incidentId}`);
  upsertIncident(detail.incident);
  const seqOf = (ticketId) => Math.max(0, ...detail.events.filter((e) => e.ticket_id === ticketId).map((e) => e.seq));
  detail.tickets.forEach((ticket) => upsertTicketRead(ticket, seqOf(ticket.id)));
  detail.feedback.forEach(addFeedback);
  if (!nearbyCache.has(incidentId)) loadNearby(incidentId);
  render();
}

async function busy(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    alert(error.message);
  } finally {
    button.disabled = false;
  }
}

function ticketAction(button, ticketId, action) {
  return busy(button, async () => {
    const before = tickets.get(ticketId)?.status;
    const result = await api(`tickets/${ticketId}/${action}`, { method: "POST", body: {} });
    // Its event may have come first, and later ones after it: only fill in what has not arrived.
    if (tickets.get(ticketId)?.status === before) tickets.set(ticketId, result.ticket);
    render();
  });
}

function assign(form, incidentId, code) {
  return busy(form.querySelector("button"), async () => {
    const result = await api(`incidents/${incidentId}/assign`, { method: "POST", body: { subcenter: code } });
    upsertTicketRead(result.ticket);
    upsertIncident(result.incident);
    render();
  });
}

function closeIncident(button, incidentId) {
  return busy(button, async () => {
    const result = await api(`incidents/${incidentId}/close`, { method: "POST", body: { reason: "" } });
    upsertIncident(result.incident);
    render();
  });
}

// ---- sub-center health -------------------------------------------------------------

function healthItem(subcenter) {
  const terminal = subcenter.terminal || {};
  const state = terminal.online ? (terminal.audio_armed ? "armed" : "online") : "offline";
  const label = { armed: gettext("online, alarm armed"), online: gettext("online, alarm not armed"), offline: gettext("offline") }[state];
  return h("li", { class: `health-${state}`, dataset: { code: subcenter.code }, title: subcenter.code }, h("span", { class: "dot" }), subcenter.name, " ", h("span", { class: "muted" }, label));
}

function renderHealth() {
  const sorted = [...subcenters].sort((a, b) => (b.terminal?.online || 0) - (a.terminal?.online || 0) || a.code.localeCompare(b.code));
  $("health").replaceChildren(...sorted.map(healthItem));
}

function updateHealth(payload) {
  const subcenter = subcenters.find((s) => s.id === payload.subcenter.id);
  if (!subcenter) return;
  subcenter.terminal = { online: payload.online, audio_armed: payload.audio_armed, last_heartbeat: payload.last_heartbeat };
  renderHealth();
}

function flash(ticketId) {
  document.querySelectorAll(`[data-ticket-id="${ticketId}"]`).forEach((el) => el.classList.add("flash"));
}

// ---- notices that failed: the duty phones and leaders that could not be reached -------

const failedNotices = new Map(); // notice id → notice (GET notices?status=failed, then notice.failed events)

function failedNoticeItem(notice) {
  const item = document.createElement("li");
  item.className = "attention late";
  item.dataset.noticeId = notice.id;
  const number = document.createElement("strong");
  number.textContent = notice.to;
  const where = document.createElement("span");
  where.textContent = " — " + interpolate(gettext("ticket #%(ticket)s, incident #%(incident)s"),
    { ticket: notice.ticket_id, incident: notice.incident_id }, true);
  const error = document.createElement("div");
  error.className = "muted";
  error.textContent = notice.last_error;
  item.append(number, where, error);
  item.addEventListener("click", () => select(notice.incident_id));
  return item;
}

function addFailedNotice(notice) {
  failedNotices.set(notice.id, notice);
  const newest = [...failedNotices.values()].sort((a, b) => b.id - a.id);
  $("notices-failed").replaceChildren(...newest.map(failedNoticeItem));
  $("notices-failed-card").hidden = newest.length === 0;
}

async function loadFailedNotices() {
  try {
    (await api("notices?status=failed&limit=100")).notices.forEach(addFailedNotice);
  } catch (error) { // say so where the list would be: an empty list must mean "none failed"
    const item = document.createElement("li");
    item.className = "error";
    item.textContent = error.message;
    $("notices-failed").replaceChildren(item);
    $("notices-failed-card").hidden = false;
  }
}

// ---- the report form ---------------------------------------------------------------

const form = $("report");
let draft = null; // {lon, lat, key, marker}
let inFlight = false;

function openForm(latlng) {
  if (!draft) draft = { key: newKey() };
  draft.lon = Number(latlng.lng.toFixed(6));
  draft.lat = Number(latlng.lat.toFixed(6));
  draft.marker?.remove();
  draft.marker = L.circleMarker(latlng, { radius: 10, color: "#000", weight: 2, dashArray: "2 2", fillOpacity: 0 }).addTo(map);
  form.hidden = false;
  $("report-where").textContent = `${draft.lon}, ${draft.lat}`;
  $("report-error").textContent = "";
  form.elements.title.focus();
  preview();
}

function closeForm() {
  form.hidden = true;
  draft?.marker?.remove();
  draft = null;
  form.reset();
  $("route-preview").replaceChildren();
}

let previewSerial = 0;
async function preview() {
  if (!draft) return;
  const serial = ++previewSerial;
  const { category, severity } = form.elements;
  const box = $("route-preview");
  try {
    const query = new URLSearchParams({ lon: draft.lon, lat: draft.lat, category: category.value, severity: severity.value });
    const route = await api(`route?${query}`);
    if (serial !== previewSerial) return;
    const rows = route.routes.map((r) => h("li", { class: r.subcenter_code ? "" : "triage", dataset: { code: r.subcenter_code || "" } },
      h("strong", {}, r.subcenter_name || gettext("nobody")), " — ", ruleLabel(r.rule), r.jurisdiction_name ? ` (${r.jurisdiction_name})` : ""));
    box.replaceChildren(...[
      h("h3", {}, gettext("Will receive it")),
      route.plan ? h("p", { class: "muted" }, gettext("Plan:"), " ", route.plan.name) : h("p", { class: "muted" }, gettext("No plan for this category and severity.")),
      h("ul", {}, rows),
      route.triage ? h("p", { class: "error" }, gettext("Triage: someone must be assigned by hand.")) : null,
    ].filter(Boolean));
  } catch (error) {
    if (serial === previewSerial) box.replaceChildren(h("p", { class: "error" }, error.message));
  }
}

async function submit(event) {
  event.preventDefault();
  if (inFlight || !draft) return;
  const button = $("report-submit");
  inFlight = true;
  button.disabled = true;
  const data = Object.fromEntries(new FormData(form));
  const body = { ...data, severity: Number(data.severity), location: { type: "Point", coordinates: [draft.lon, draft.lat] } };
  try {
    const result = await api("incidents", { method: "POST", body, headers: { "Idempotency-Key": draft.key } });
    upsertIncident(result.incident);
    result.tickets.forEach((ticket) => upsertTicketRead(ticket));
    closeForm();
    select(result.incident.id);
  } catch (error) {
    $("report-error").textContent = error.message;
    // Refused input created nothing: the corrected form is a new report.
    if (error instanceof ApiError && error.status === 400) draft.key = newKey();
  } finally {
    inFlight = false;
    button.disabled = false;
  }
}

function formKeys(event) {
  if (form.hidden) return;
  if (event.key === "Escape") { event.preventDefault(); closeForm(); }
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.tagName === "TEXTAREA") form.requestSubmit();
}

// ---- start -------------------------------------------------------------------------

async function main() {
  map = await baseMap($("map"));
  window.gdMap = map; // for tests and the curious
  map.on("click", (e) => openForm(e.latlng));
  form.addEventListener("submit", submit);
  $("report-cancel").addEventListener("click", closeForm);
  form.elements.category.addEventListener("change", preview);
  form.elements.severity.addEventListener("change", preview);
  document.addEventListener("keydown", formKeys);
  const english = document.documentElement.lang.startsWith("en");
  categories = (await api("categories")).categories;
  form.elements.category.replaceChildren(...categories.map((c) =>
    h("option", { value: c.code }, english && c.name_en ? c.name_en : c.name)));
  subcenters = (await api("subcenters")).subcenters;
  renderHealth();
  const stream = new Stream({ onSnapshot: applySnapshot, onEvent: applyEvent, onState: showConnection });
  window.gdStream = stream.start();
  loadFailedNotices(); // after subscribing: an event that arrives meanwhile is kept by id, not lost
  setInterval(render, 5000); // deadlines pass without events
  document.body.dataset.ready = "true";
}

main();
