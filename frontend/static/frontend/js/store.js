// The one client store every screen uses (docs/PROTOCOL.md, "Keeping state").
//
// Order: a snapshot, then events in seq order, then REST answers merged by seq — never the reverse.
// Every entity remembers the seq it is at; an answer read before an event already applied to the
// entity is older than what we hold and is dropped for that entity. What the screens derive from it —
// an incident's tickets, who is late and by how much, whose move it is, what rings — is computed here,
// once, so two screens never disagree.

export const OPEN_TICKET = new Set(["issued", "delivered", "accepted", "confirmed", "resolved"]);
export const STAGES = ["issued", "delivered", "accepted", "confirmed", "resolved", "closed"];

// For an open ticket: the stage it waits for, and whose move that is ("them": the sub-center, "us": the command center).
const NEXT = {
  issued: { stage: "delivered", whose: "them", action: "deliver" },
  delivered: { stage: "accepted", whose: "them", action: "accept" },
  accepted: { stage: "confirmed", whose: "us", action: "confirm" },
  confirmed: { stage: "resolved", whose: "them", action: "final" },
  resolved: { stage: "closed", whose: "us", action: "close" },
  rejected: { stage: "reassigned", whose: "us", action: "assign" },
};

export class Store {
  constructor() {
    this.incidents = new Map(); // id → incident
    this.tickets = new Map(); // id → ticket
    this.feedback = new Map(); // ticket id → [feedback], in arrival order, once each
    this.calls = new Map(); // incident id → [call]
    this.at = new Map(); // "incident:7" / "ticket:9" → the seq the entity is known at
    this.seq = null; // the last event applied; null before the first snapshot
    this.listeners = new Set();
    this.eventListeners = new Set();
    this.queued = false;
  }

  // ---- listening ----------------------------------------------------------------------

  // fn() after every change, at most once per task (a burst of events is one notification).
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // fn(event, context) for every event applied, after the state has taken it in.
  onEvent(fn) {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  changed() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.listeners.forEach((fn) => fn(this));
    });
  }

  // ---- writing: snapshot, events, REST answers -------------------------------------------

  applySnapshot(snapshot) {
    this.incidents.clear();
    this.tickets.clear();
    this.at.clear();
    this.seq = snapshot.seq;
    snapshot.incidents.forEach((incident) => this.put("incident", incident, snapshot.seq));
    snapshot.tickets.forEach((ticket) => this.put("ticket", ticket, snapshot.seq));
    this.changed();
  }

  applyEvent(event, context = {}) {
    if (this.seq !== null && event.seq <= this.seq) return; // already applied
    this.seq = event.seq;
    const payload = event.payload || {};
    if (payload.incident) this.put("incident", payload.incident, event.seq);
    if (payload.into) this.put("incident", payload.into, event.seq);
    if (payload.ticket) this.put("ticket", payload.ticket, event.seq);
    if (payload.feedback) this.addFeedback({ ...payload.feedback, ticket_id: payload.feedback.ticket_id ?? event.ticket_id });
    if (payload.call) this.addCall(payload.call);
    this.eventListeners.forEach((fn) => fn(event, context));
    this.changed();
  }

  // Merge a REST answer ({seq?, incident?, into?, ticket?, tickets?, feedback?, calls?}). An answer
  // without a seq only fills in what the store does not know yet.
  merge(answer) {
    const seq = answer.seq ?? null;
    if (answer.incident) this.put("incident", answer.incident, seq);
    if (answer.into) this.put("incident", answer.into, seq);
    if (answer.ticket) this.put("ticket", answer.ticket, seq);
    (answer.tickets || []).forEach((ticket) => this.put("ticket", ticket, seq));
    (answer.feedback || []).forEach((item) => this.addFeedback(item));
    (answer.calls || []).forEach((call) => this.addCall(call));
    this.changed();
  }

  // Take a thing at seq unless the store already holds it at a later one. seq null: an answer of
  // unknown age, taken only for a thing the store has not seen.
  put(kind, thing, seq) {
    const key = `${kind}:${thing.id}`;
    const known = this.at.get(key);
    if (known !== undefined && (seq === null || seq < known)) return false;
    if (seq !== null) this.at.set(key, seq);
    const things = kind === "incident" ? this.incidents : this.tickets;
    things.set(thing.id, { ...things.get(thing.id), ...thing });
    return true;
  }

  // A result frame names only the new status: taken while the ticket still is where the action found it.
  settleTicket(id, before, status) {
    const ticket = this.tickets.get(id);
    if (!ticket || ticket.status !== before || !status) return;
    this.tickets.set(id, { ...ticket, status });
    this.changed();
  }

  addFeedback(item) {
    const list = this.feedback.get(item.ticket_id) || [];
    if (item.id !== undefined && list.some((f) => f.id === item.id)) return;
    this.feedback.set(item.ticket_id, [...list, item]);
  }

  addCall(call) {
    const list = this.calls.get(call.incident_id) || [];
    if (list.some((c) => c.id === call.id)) return;
    this.calls.set(call.incident_id, [...list, call]);
  }

  // ---- reading: what every screen derives ------------------------------------------------

  ticketsOf(incidentId) {
    return [...this.tickets.values()].filter((t) => t.incident_id === incidentId).sort((a, b) => a.id - b.id);
  }

  openIncidents() {
    return [...this.incidents.values()].filter((i) => i.status !== "closed").sort((a, b) => b.id - a.id);
  }

  // The tickets that ring on a terminal: not yet accepted.
  ringing(subcenterId = null) {
    return [...this.tickets.values()].filter((t) => (t.status === "issued" || t.status === "delivered")
      && (subcenterId === null || t.subcenter.id === subcenterId));
  }

  // An incident can be closed when it has tickets and none is open; else the tickets that hold it.
  blockingTickets(incidentId) {
    return this.ticketsOf(incidentId).filter((t) => OPEN_TICKET.has(t.status));
  }

  canClose(incidentId) {
    const incident = this.incidents.get(incidentId);
    return Boolean(incident) && incident.status !== "closed" && this.blockingTickets(incidentId).length === 0
      && this.ticketsOf(incidentId).length > 0;
  }
}

// What a ticket waits for and whose move it is: {stage, whose, action}; null when it waits for nothing.
export function nextStep(ticket) {
  return NEXT[ticket.status] || null;
}

// Seconds a ticket is past its stage's deadline at `now` (0: not late). The worker marks it overdue;
// between its rounds the deadline itself says so.
export function lateBy(ticket, now = Date.now()) {
  if (!OPEN_TICKET.has(ticket.status) || !ticket.due_at) return ticket.overdue ? 1 : 0;
  const late = (now - new Date(ticket.due_at).getTime()) / 1000;
  return late > 0 ? late : ticket.overdue ? 1 : 0;
}

export function isLate(ticket, now = Date.now()) {
  return lateBy(ticket, now) > 0;
}

// Does the command center owe this incident an owner: triage, or a rejection not yet followed by a
// later ticket of the same kind.
export function needsOwner(store, incident) {
  if (incident.status === "closed") return false;
  if (incident.status === "triage") return true;
  const own = store.ticketsOf(incident.id);
  return own.some((r) => r.status === "rejected"
    && !own.some((t) => t.id > r.id && t.subcenter.kind === r.subcenter.kind && t.status !== "rejected"));
}

// What needs the command center's attention, most urgent first: each item names the incident, the
// ticket and its stage, how late, whose move it is, the escalation rung, the duty phone and the action.
export function attention(store, now = Date.now()) {
  const items = [];
  for (const incident of store.incidents.values()) {
    if (!needsOwner(store, incident)) continue;
    const rejected = store.ticketsOf(incident.id).filter((t) => t.status === "rejected").pop() || null;
    items.push({
      key: `owner-${incident.id}`, kind: incident.status === "triage" ? "triage" : "rejected", incident,
      ticket: rejected, lateS: 0, whose: "us", action: "assign", rung: 0, phone: rejected?.subcenter.duty_phone || "",
    });
  }
  for (const ticket of store.tickets.values()) {
    const incident = store.incidents.get(ticket.incident_id);
    if (!incident || incident.status === "closed") continue;
    const lateS = lateBy(ticket, now);
    if (lateS <= 0) continue;
    const step = nextStep(ticket) || {};
    items.push({
      key: `late-${ticket.id}`, kind: "late", incident, ticket, lateS, whose: step.whose, action: step.action,
      stage: step.stage, rung: ticket.escalation_level || 0, phone: ticket.subcenter.duty_phone || "",
    });
  }
  const rank = { triage: 0, rejected: 1, late: 2 };
  return items.sort((a, b) => rank[a.kind] - rank[b.kind] || b.lateS - a.lateS || a.incident.id - b.incident.id);
}
