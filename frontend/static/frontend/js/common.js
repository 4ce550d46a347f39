// What the screens share: config, translations, the REST client, DOM helpers, labels, stages, markers.

import { OPEN_TICKET, STAGES } from "./store.js";
import { html } from "./ui.js";

export const config = JSON.parse(document.getElementById("gd-config").textContent);

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function errorText(body) {
  if (!body || !body.errors) return "";
  return Object.entries(body.errors)
    .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
    .join("; ");
}

// Call the API on our own origin; JSON in and out; raise ApiError on a non-2xx answer.
export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET") {
    init.headers["X-CSRFToken"] = csrf();
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  let response;
  try {
    response = await fetch(`/api/v1/${path}`, init);
  } catch { // the browser's own words ("Failed to fetch") are neither translated nor helpful
    throw new NetworkError();
  }
  const data = response.headers.get("content-type")?.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The server could not be reached at all: said in the screen's language.
export class NetworkError extends Error {
  constructor() {
    super(gettext("The server cannot be reached: check the network and try again."));
    this.status = 0;
  }
}

const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "xlink:href"]);
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:", "tel:"]);

// Return an address fit for a link: a javascript:, data: or other scheme from data becomes about:blank.
export function safeUrl(value) {
  try {
    const url = new URL(String(value), location.href);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : "about:blank";
  } catch {
    return "about:blank";
  }
}

// Build an element: h("li", {class: "x", onclick: f}, "text", child…). Text is never parsed as HTML;
// handlers are functions only (never an on… attribute) and URL attributes go through safeUrl.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) {
      if (typeof value === "function") el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") Object.assign(el.dataset, value);
    else if (URL_ATTRIBUTES.has(key)) el.setAttribute(key, safeUrl(value));
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Leaflet's bindTooltip/bindPopup and ECharts' HTML tooltips parse a string as HTML: give Leaflet this node.
export function textTip(...parts) {
  return h("span", {}, ...parts);
}

export const SEVERITY_COLORS = { 1: "#b71c1c", 2: "#e65100", 3: "#f9a825", 4: "#1565c0" };
export const SEVERITY_ROMAN = { 1: "I", 2: "II", 3: "III", 4: "IV" };

export function severityLabel(level) {
  return { 1: gettext("I · extremely severe"), 2: gettext("II · severe"), 3: gettext("III · major"), 4: gettext("IV · general") }[level];
}

export function ticketStatusLabel(status) {
  return {
    issued: gettext("issued"), delivered: gettext("delivered"), accepted: gettext("accepted"), confirmed: gettext("confirmed"),
    resolved: gettext("resolved"), closed: gettext("closed"), rejected: gettext("rejected"), cancelled: gettext("cancelled"),
  }[status] || status;
}

export function incidentStatusLabel(status) {
  return {
    triage: gettext("triage"), dispatched: gettext("dispatched"), acknowledged: gettext("acknowledged"),
    resolved: gettext("resolved"), closed: gettext("closed"),
  }[status] || status;
}

export function ruleLabel(rule) {
  return {
    covered: gettext("the point lies in its jurisdiction"),
    overlap: gettext("overlapping jurisdictions: chosen by rule"),
    nearest_within_tolerance: gettext("nearest jurisdiction within tolerance"),
    no_owner: gettext("no owner: manual assignment needed"),
    manual: gettext("assigned by hand at the command center"),
  }[rule] || rule;
}

// ---- the screen's language: English screens use the data's English names where it has them ----

export const english = document.documentElement.lang.startsWith("en");

// A thing's name in the screen's language: name_en on English screens when the data has one.
export function nameOf(thing, fallback = "") {
  if (!thing) return fallback;
  return (english && thing.name_en) || thing.name || fallback;
}

// A terminal's state from its health {online, audio_armed}: "armed", "online" (not armed) or "offline".
export function terminalState(terminal) {
  if (!terminal || !terminal.online) return "offline";
  return terminal.audio_armed ? "armed" : "online";
}

export function terminalLabel(state) {
  return { armed: gettext("online, alarm armed"), online: gettext("online, alarm not armed"), offline: gettext("offline") }[state];
}

// Seconds as m:ss (or h:mm:ss past an hour).
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export function eventLabel(name) {
  return {
    "incident.reported": gettext("reported"), "incident.triage": gettext("sent to triage"),
    "incident.updated": gettext("incident updated"), "incident.closed": gettext("incident closed"),
    "incident.call": gettext("call attached"), "incident.merged": gettext("marked as duplicate"),
    "ticket.issued": gettext("ticket issued"), "ticket.delivered": gettext("delivered to the terminal"),
    "ticket.accepted": gettext("accepted"), "ticket.rejected": gettext("rejected"), "ticket.confirmed": gettext("confirmed"),
    "ticket.feedback": gettext("progress"), "ticket.resolved": gettext("final report"), "ticket.closed": gettext("ticket closed"),
    "ticket.reopened": gettext("ticket reopened"), "ticket.cancelled": gettext("ticket cancelled"),
    "ticket.overdue": gettext("overdue"), "ticket.checked": gettext("checklist item ticked"),
  }[name] || name;
}

// What the command center or the sub-center does next (store.nextStep's action).
export function actionLabel(action) {
  return {
    deliver: gettext("receive on the terminal"), accept: gettext("accept"), confirm: gettext("confirm"),
    final: gettext("final report"), close: gettext("close the ticket"), assign: gettext("assign"),
  }[action] || action;
}

export { OPEN_TICKET, STAGES }; // defined once, in the store

export function time(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, { hour12: false });
}

// One ticket's stages as a row of steps, each with the time it was reached (a Preact component).
export function Stages({ ticket }) {
  return html`<ol class="stages">${STAGES.map((stage) => {
    const at = ticket[`${stage}_at`];
    return html`<li key=${stage} class=${at ? "done" : ""} data-stage=${stage}>${ticketStatusLabel(stage)}${at ? html`<time>${time(at)}</time>` : null}</li>`;
  })}</ol>`;
}

// How an incident's marker looks: size by severity, outline by status and lateness.
export function incidentStyle(incident, { overdue = false } = {}) {
  const closed = incident.status === "closed" || incident.status === "resolved";
  return {
    radius: 9 - (incident.severity - 1),
    color: overdue ? "#d50000" : incident.status === "triage" ? "#000" : "#fff",
    weight: overdue || incident.status === "triage" ? 3 : 2,
    dashArray: incident.status === "triage" ? "3 3" : null,
    fillColor: SEVERITY_COLORS[incident.severity] || "#555",
    fillOpacity: closed ? 0.35 : 0.9,
  };
}

export function incidentMarker(incident, { overdue = false } = {}) {
  const [lon, lat] = incident.location.coordinates;
  return L.circleMarker([lat, lon], {
    ...incidentStyle(incident, { overdue }),
    className: "incident-marker",
    bubblingMouseEvents: false, // a click on an incident is not a click on the map (which logs a new one)
  });
}

// A screen's connection indicator in the top bar: countdown and "Retry now" (connection.js).
export { showConnection } from "./connection.js";
