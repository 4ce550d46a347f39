// The command console (指挥台): log incidents on the map (or attach a repeated call to one already
// open), watch the acknowledgements, act on what needs attention, assign, cancel, reopen, close, find.
//
// Everything is rendered from the one client store (store.js) by Preact: a redraw only touches what
// changed, so an open select, typed text or an unsent form survives every event and every tick. The
// Leaflet map stays outside Preact; its markers are kept in step with the store, one per incident.

import {
  api, ApiError, incidentMarker, incidentStyle, incidentStatusLabel, nameOf, ruleLabel,
  SEVERITY_ROMAN, showConnection, terminalLabel, terminalState, textTip,
} from "./common.js";
import { baseMap, centerOn } from "./map.js";
import { addressOf, PlaceSearch } from "./place_search.js";
import { Stream } from "./stream.js";
import { isLate } from "./store.js";
import { html, render } from "./ui.js";
import {
  categoryName, kindName, loadIncident, loadReference, newKey, store, subcenterName, takeAnswer, takePresence, ui,
} from "./console_shared.js";
import { Detail, EmptyDetail, loadNearby } from "./console_detail.js";
import { AttentionList, FailedNotices, failedNotices, HealthList, IncidentList, noticeState, Search } from "./console_lists.js";

const $ = (id) => document.getElementById(id);
let map;

// ---- drawing: every part from the store, at most once a frame ------------------------------------

let drawQueued = false;
function draw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    const now = Date.now();
    const incident = store.incidents.get(ui.selected);
    render(incident ? html`<${Detail} key=${incident.id} incident=${incident} now=${now} />` : html`<${EmptyDetail} />`, $("detail-root"));
    render(html`<${AttentionList} now=${now} />`, $("attention"));
    render(html`<${IncidentList} now=${now} />`, $("incidents"));
    render(html`<${HealthList} />`, $("health"));
    render(html`<${FailedNotices} />`, $("notices-failed-root"));
    render(html`<${Search} />`, $("search-root"));
    if (draft) renderForm();
    syncMarkers(now);
  });
}
ui.redraw = draw;

async function select(incidentId) {
  ui.selected = incidentId;
  draw();
  try {
    await loadIncident(incidentId);
  } catch (error) {
    if (!store.incidents.has(incidentId)) ui.nearby.set(incidentId, { error: error.message });
  }
  loadNearby(incidentId);
  const incident = store.incidents.get(incidentId);
  if (incident && map && !map.getBounds().contains(latLng(incident))) map.panTo(latLng(incident));
}
ui.select = select;

// ---- the map's markers, one per incident shown, redrawn only when what they show changed ---------

const markers = new Map(); // incident id → marker

function latLng(incident) {
  const [lon, lat] = incident.location.coordinates;
  return [lat, lon];
}

function syncMarkers(now) {
  const shown = new Map(store.openIncidents().map((i) => [i.id, i]));
  const chosen = store.incidents.get(ui.selected);
  if (chosen) shown.set(chosen.id, chosen);
  for (const [id, marker] of markers) {
    if (!shown.has(id)) { marker.remove(); markers.delete(id); }
  }
  for (const incident of shown.values()) {
    const late = store.ticketsOf(incident.id).some((t) => isLate(t, now));
    const look = JSON.stringify([incident.status, incident.severity, incident.title, incident.location.coordinates, late]);
    const tip = textTip(SEVERITY_ROMAN[incident.severity], " · ", incident.title, " · ", incidentStatusLabel(incident.status));
    const old = markers.get(incident.id);
    if (old) {
      // Restyled in place, never replaced: a click that lands while it changes still reaches it.
      if (old.gdLook === look) continue;
      const style = incidentStyle(incident, { overdue: late });
      old.setStyle(style).setRadius(style.radius).setLatLng(latLng(incident)).setTooltipContent(tip);
      old.gdLook = look;
      continue;
    }
    const marker = incidentMarker(incident, { overdue: late })
      .bindTooltip(tip)
      .on("click", (event) => { L.DomEvent.stopPropagation(event); select(incident.id); });
    marker.gdLook = look;
    markers.set(incident.id, marker.addTo(map));
  }
}

// ---- the report form: a new incident, or a repeated call attached to one already open -----------

const form = $("report");
let draft = null; // {lon, lat, key, marker, route, routeError, duplicates, attaching, attachError}
let inFlight = false;

function openForm(latlng, { address = "" } = {}) {
  if (!draft) draft = { key: newKey() };
  draft.lon = Number(latlng.lng.toFixed(6));
  draft.lat = Number(latlng.lat.toFixed(6));
  draft.marker?.remove();
  draft.marker = L.circleMarker(latlng, { radius: 10, color: "#000", weight: 2, dashArray: "2 2", fillOpacity: 0, interactive: false }).addTo(map);
  form.hidden = false;
  $("report-where").textContent = `${draft.lon}, ${draft.lat}`;
  $("report-error").textContent = "";
  if (address) form.elements.address.value = address;
  draft.place = null;
  form.elements.title.focus();
  preview();
  findDuplicates();
  lookUp();
}

// A place search result: the map centers on it and the form opens there with its address.
function placeChosen(result) {
  const [lon, lat] = result.location.coordinates;
  centerOn(map, result);
  openForm(L.latLng(lat, lon), { address: result.kind === "coordinates" ? addressOf(result.address) : result.name });
}

// What is at the draft's point (GET reverse): shown in the preview; an empty address gets it.
async function lookUp() {
  const at = { lon: draft.lon, lat: draft.lat };
  let place;
  try {
    place = await api(`reverse?lon=${at.lon}&lat=${at.lat}`);
  } catch (error) {
    place = { error: error.message };
  }
  if (!draft || draft.lon !== at.lon || draft.lat !== at.lat) return;
  draft.place = place;
  const field = form.elements.address;
  if (!place.error && (!field.value || field.value === draft.autoAddress)) field.value = draft.autoAddress = addressOf(place);
  renderForm();
}

function PlaceFound({ place }) {
  if (!place) return null;
  if (place.error) return html`<p class="error">${place.error}</p>`;
  const row = (label, part, value) => (value ? html`<li data-part=${part}>${label} ${value}</li>` : null);
  const named = (thing) => thing && `${thing.name}${thing.distance_m !== undefined && thing.distance_m !== null ? ` (${Math.round(thing.distance_m)} m)` : ""}`;
  return html`<ul class="place-found">
    ${row(gettext("County:"), "county", nameOf(place.county))}${row(gettext("Township:"), "township", nameOf(place.township))}
    ${row(gettext("Road:"), "road", named(place.road))}${row(gettext("Place:"), "place", named(place.place))}
  </ul>`;
}

function closeForm() {
  form.hidden = true;
  draft?.marker?.remove();
  draft = null;
  form.reset();
  render(null, $("route-preview"));
  render(null, $("duplicates"));
  render(null, $("report-place"));
}

function renderForm() {
  render(html`<${PlaceFound} place=${draft.place} />`, $("report-place"));
  render(html`<${RoutePreview} route=${draft.route} error=${draft.routeError} />`, $("route-preview"));
  render(html`<${Duplicates} draft=${draft} />`, $("duplicates"));
}

let previewSerial = 0;
async function preview() {
  if (!draft) return;
  const serial = ++previewSerial;
  const { category, severity } = form.elements;
  try {
    const query = new URLSearchParams({ lon: draft.lon, lat: draft.lat, category: category.value, severity: severity.value });
    const route = await api(`route?${query}`);
    if (serial !== previewSerial || !draft) return;
    Object.assign(draft, { route, routeError: "" });
  } catch (error) {
    if (serial !== previewSerial || !draft) return;
    Object.assign(draft, { route: null, routeError: error.message });
  }
  renderForm();
}

function routeTerminal(row) {
  const live = [...ui.subcenters.values()].find((s) => s.code === row.subcenter_code);
  return terminalState(live?.terminal || row.terminal);
}

function RoutePreview({ route, error }) {
  if (error) return html`<p class="error">${error}</p>`;
  if (!route) return null;
  const missing = route.missing_kinds || (route.unassigned_kinds || []).map((code) => ({ code }));
  missing.filter((k) => k.name).forEach((k) => ui.kinds.set(k.code, { ...ui.kinds.get(k.code), ...k }));
  return html`<h3>${gettext("Will receive it")}</h3>
    ${route.plan ? html`<p class="muted">${gettext("Plan:")} ${nameOf(route.plan)}</p>`
      : html`<p class="muted">${gettext("No plan for this category and severity.")}</p>`}
    <ul>${route.routes.map((r) => {
      const state = r.subcenter_code ? routeTerminal(r) : null;
      return html`<li key=${r.kind} class=${r.subcenter_code ? `terminal-${state}` : "triage"} data-code=${r.subcenter_code || ""}
          data-kind=${r.kind} data-terminal=${state || ""}>
        <span class="kind">${kindName(r.kind)}:</span> <strong>${r.subcenter_code ? subcenterName({ code: r.subcenter_code, name: r.subcenter_name, name_en: r.subcenter_name_en }) : gettext("nobody")}</strong>
        ${" — "}${ruleLabel(r.rule)}${r.jurisdiction_name ? ` (${r.jurisdiction_name})` : ""}
        ${state ? html` <span class=${`term term-${state}`}>${terminalLabel(state)}</span>` : null}</li>`;
    })}</ul>
    ${missing.length ? html`<p class="error" id="missing-kinds">${interpolate(gettext("Nobody owns: %(kinds)s. Someone must be assigned by hand."),
      { kinds: missing.map((k) => kindName(k.code, k)).join(", ") }, true)}</p>`
      : route.triage ? html`<p class="error">${gettext("Triage: someone must be assigned by hand.")}</p>` : null}`;
}

// ---- repeated calls: open incidents near the point, one click attaches the call -----------------

async function findDuplicates() {
  const at = { lon: draft.lon, lat: draft.lat };
  try {
    const answer = await api(`incidents/duplicates?lon=${at.lon}&lat=${at.lat}`);
    if (!draft || draft.lon !== at.lon || draft.lat !== at.lat) return;
    draft.duplicates = answer.incidents;
  } catch (error) {
    if (!draft) return;
    // An older server has no such endpoint: nothing to offer, nothing to say.
    draft.duplicates = error instanceof ApiError && error.status === 404 ? [] : { error: error.message };
  }
  renderForm();
}

async function attachCall(incidentId) {
  if (!draft || draft.attaching) return;
  const f = form.elements;
  const body = {
    reporter_name: f.reporter_name.value, reporter_phone: f.reporter_phone.value, note: f.description.value,
    location: { type: "Point", coordinates: [draft.lon, draft.lat] },
  };
  draft.attaching = incidentId;
  renderForm();
  try {
    takeAnswer(await api(`incidents/${incidentId}/calls`, { method: "POST", body }));
    closeForm();
    select(incidentId);
  } catch (error) {
    if (!draft) return;
    Object.assign(draft, { attaching: null, attachError: error.message });
    renderForm();
  }
}

function Duplicates({ draft: d }) {
  const found = d.duplicates;
  if (!found) return null;
  if (found.error) return html`<p class="error">${found.error}</p>`;
  if (!found.length) return null;
  return html`<div class="duplicates card-inner">
    <h3>${gettext("Open incidents nearby: the same one?")}</h3>
    <ul class="list">${found.map((i) => html`<li key=${i.id} data-incident-id=${i.id}>
      <span class=${`sev sev-${i.severity}`}>${SEVERITY_ROMAN[i.severity]}</span> <strong>#${i.id} ${i.title}</strong>
      <div class="muted">${categoryName(i)} · ${incidentStatusLabel(i.status)} · ${Math.round(i.distance_m ?? 0)} m
        ${" · "}${interpolate(gettext("%(n)s call(s)"), { n: i.call_count ?? 1 }, true)}</div>
      <button type="button" data-action="attach-call" data-incident-id=${i.id} disabled=${Boolean(d.attaching)}
        onClick=${() => attachCall(i.id)}>${gettext("Same incident: attach this call")}</button></li>`)}</ul>
    ${d.attachError ? html`<p class="error" role="alert">${d.attachError}</p>` : null}
  </div>`;
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
    takeAnswer(result);
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

// ---- events the store does not keep: presence, overdue flashes, failed notices ------------------

function onEvent(event) {
  const payload = event.payload || {};
  if (event.name === "terminal.presence") takePresence(payload);
  if (event.name === "notice.failed") failedNotices.set(payload.notice.id, payload.notice);
  if (event.name === "ticket.overdue") {
    requestAnimationFrame(() => document.querySelectorAll(`[data-ticket-id="${event.ticket_id}"]`).forEach((el) => el.classList.add("flash")));
  }
}

async function loadFailedNotices() {
  try {
    (await api("notices?status=failed&limit=100")).notices.forEach((n) => failedNotices.set(n.id, n));
  } catch (error) { // said where the list would be: an empty list must mean "none failed"
    noticeState.error = error.message;
  }
  draw();
}

// ---- start --------------------------------------------------------------------------------------

async function main() {
  map = await baseMap($("map"));
  window.gdMap = map; // for tests and the curious
  const counties = map.gdJurisdictions.filter((f) => f.properties.level === "county");
  ui.counties = (counties.length ? counties : map.gdJurisdictions.filter((f) => f.properties.parent))
    .map((f) => ({ code: f.properties.code, name: f.properties.name, name_en: f.properties.name_en }));
  map.on("click", (e) => openForm(e.latlng));
  render(html`<${PlaceSearch} map=${() => map} onChoose=${placeChosen} />`, $("place-search-root"));
  form.addEventListener("submit", submit);
  $("report-cancel").addEventListener("click", closeForm);
  form.elements.category.addEventListener("change", preview);
  form.elements.severity.addEventListener("change", preview);
  document.addEventListener("keydown", formKeys);
  await loadReference();
  form.elements.category.replaceChildren(...[...ui.categories.values()].map((c) => {
    const option = document.createElement("option");
    option.value = c.code;
    option.textContent = nameOf(c);
    return option;
  }));
  store.subscribe(draw);
  store.onEvent(onEvent);
  const stream = new Stream({ onSnapshot: (s) => store.applySnapshot(s), onEvent: (e, c) => store.applyEvent(e, c), onState: showConnection });
  window.gdStream = stream.start();
  window.gdStore = store;
  loadFailedNotices(); // after subscribing: an event that arrives meanwhile is kept by id, not lost
  setInterval(draw, 1000); // deadlines pass without events; lateness counts up
  draw();
  document.body.dataset.ready = "true";
}

main();
