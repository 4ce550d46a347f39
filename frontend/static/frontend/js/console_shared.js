// What the console's parts share: the one store, the reference data (sub-centers with their
// terminals, categories, kinds), the selected incident, and the names in the screen's language.

import { api, english } from "./common.js";
import { Store } from "./store.js";

export const store = new Store();

export const ui = {
  selected: null, // the incident shown in the detail
  subcenters: new Map(), // id → sub-center, its `terminal` kept live by terminal.presence events
  categories: new Map(), // code → category
  kinds: new Map(), // code → {code, name, name_en}
  events: new Map(), // incident id → its events as GET incidents/{id} gave them
  nearby: new Map(), // incident id → county seats nearby, or {error}
  redraw: () => {},
  select: () => {},
};

export function subcenterOf(ref) {
  if (!ref) return null;
  return ui.subcenters.get(ref.id) || [...ui.subcenters.values()].find((s) => s.code === ref.code) || null;
}

// A sub-center's name in the screen's language: a ticket's copy, else the sub-center list's.
export function subcenterName(ref) {
  const full = subcenterOf(ref) || {};
  if (english) return ref?.name_en || full.name_en || ref?.name || full.name || ref?.code || "";
  return ref?.name || full.name || ref?.code || "";
}

export function subcenterPhone(ref) {
  return ref?.duty_phone || subcenterOf(ref)?.duty_phone || "";
}

export function kindName(code, given = null) {
  const kind = { ...ui.kinds.get(code), ...given };
  return english ? kind.name_en || code : kind.name || code;
}

export function categoryName(incident) {
  if (!english) return incident.category_name;
  return incident.category_name_en || ui.categories.get(incident.category)?.name_en || incident.category_name;
}

export async function loadReference() {
  const [categories, subcenters] = await Promise.all([api("categories"), api("subcenters")]);
  categories.categories.forEach((c) => ui.categories.set(c.code, c));
  subcenters.subcenters.forEach((s) => {
    ui.subcenters.set(s.id, s);
    if (!ui.kinds.has(s.kind)) ui.kinds.set(s.kind, { code: s.kind, name: s.kind_name, name_en: s.kind_name_en || "" });
  });
}

// A terminal.presence event: the sub-center's terminal as it is now.
export function takePresence(payload) {
  const subcenter = ui.subcenters.get(payload.subcenter.id);
  if (!subcenter) return;
  subcenter.terminal = { online: payload.online, audio_armed: payload.audio_armed, last_heartbeat: payload.last_heartbeat };
}

// Take a write's answer. With a seq (the contract) the store merges it by seq; without one, a ticket's
// new status is taken only while the ticket is still where the action found it (its event may be ahead).
export function takeAnswer(answer, ticketBefore = null) {
  if (answer.seq === undefined || answer.seq === null) {
    if (answer.ticket && ticketBefore) store.settleTicket(answer.ticket.id, ticketBefore, answer.ticket.status);
  }
  store.merge(answer);
}

// Load one incident (open or from the history) and merge it into the store.
export async function loadIncident(id) {
  const detail = await api(`incidents/${id}`);
  ui.events.set(id, detail.events || []);
  store.merge({ seq: detail.seq, incident: detail.incident, tickets: detail.tickets, feedback: detail.feedback });
  return detail;
}

export function newKey(prefix = "console") {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-` + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
