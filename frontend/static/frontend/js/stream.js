// The stream client shared by the three screens (docs/PROTOCOL.md, "The event stream", protocol version 1):
// connect, hello → snapshot → events, ignore any seq already applied, heartbeat,
// reconnect with ?since=<last seq> after exponential back-off with jitter (capped at 10 s, so a terminal is
// back within 10 s of the network's return), at once on "Retry now" or when the browser says it is online.

const BACKOFF_START_S = 0.5;
const BACKOFF_MAX_S = 10;
const ACTION_TIMEOUT_MS = 10000;
const DEGRADED_TEXT = "数据库不可用 — degraded: database unavailable; actions are refused until it is back";

// The server's `degraded` frame, on every screen: shown while the database is away (text only).
function showDegraded(on) {
  let banner = document.getElementById("degraded-banner");
  if (!banner && on) {
    banner = document.createElement("div");
    banner.id = "degraded-banner";
    banner.setAttribute("role", "alert");
    banner.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:10000;padding:6px 12px;background:#b00020;color:#fff;font-weight:bold;text-align:center";
    banner.textContent = DEGRADED_TEXT;
    document.body.append(banner);
  }
  if (banner) banner.hidden = !on;
}

export class Stream {
  // handlers: onHello(hello), onSnapshot(snapshot), onEvent(event, {replayed}), onState(state),
  // health() → {audio_armed, page_visible} for heartbeats.
  constructor(handlers = {}) {
    this.handlers = handlers;
    this.lastSeq = null; // null: no state yet, the next snapshot is applied
    this.backoff = BACKOFF_START_S;
    this.pending = new Map(); // ref → resolve, for result frames
    this.refCounter = 0;
    this.ws = null;
    this.timer = null;
    this.lastPong = 0;
    this.heartbeatS = 15;
    this.connectedAt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.downSince = Date.now(); // when the stream was last seen without state (null while online)
  }

  start() {
    this.connect();
    document.addEventListener("visibilitychange", () => this.heartbeat());
    window.addEventListener("online", () => this.retryNow());
    return this;
  }

  // Reconnect at once instead of waiting out the back-off ("Retry now", the network is back).
  retryNow() {
    if (this.ws || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.lastSeq === null ? "" : `?since=${this.lastSeq}`;
    return `${scheme}//${location.host}/ws/v1/stream${since}`;
  }

  setState(state, detail) {
    this.state = state;
    this.handlers.onState?.(state, detail);
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState(this.lastSeq === null ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    this.resuming = this.lastSeq !== null;
    ws.onmessage = (message) => this.receive(JSON.parse(message.data));
    ws.onclose = () => this.dropped(ws);
    ws.onerror = () => ws.close();
  }

  dropped(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.timer);
    for (const resolve of this.pending.values()) resolve({ ok: false, errors: { detail: [gettext("The connection was lost.")] } });
    this.pending.clear();
    this.downSince = this.downSince ?? Date.now();
    if (this.stopped) return;
    const delay = Math.min(this.backoff * (0.5 + Math.random()), BACKOFF_MAX_S); // ±50 % jitter, never over the cap
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_S);
    this.retryTimer = setTimeout(() => this.connect(), delay * 1000);
    this.setState("offline", { retryInS: delay, retryAt: Date.now() + delay * 1000, retry: () => this.retryNow() });
  }

  receive(frame) {
    switch (frame.type) {
      case "hello":
        this.hello = frame;
        this.heartbeatS = frame.heartbeat_s || 15;
        this.startHeartbeat();
        this.handlers.onHello?.(frame);
        break;
      case "resync_required":
        this.lastSeq = null; // drop local state: the snapshot that follows replaces it
        break;
      case "snapshot":
        if (this.lastSeq === null) {
          this.lastSeq = frame.seq;
          this.handlers.onSnapshot?.(frame);
        }
        this.backoff = BACKOFF_START_S;
        this.downSince = null;
        showDegraded(false); // a snapshot was read, so the database answers
        this.setState("online");
        break;
      case "degraded":
        showDegraded(frame.database === false);
        this.handlers.onDatabase?.(frame.database !== false);
        break;
      case "event":
        if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // already applied
        this.lastSeq = frame.seq;
        this.handlers.onEvent?.(frame, { replayed: this.resuming && frame.seq <= (this.hello?.seq ?? 0) });
        break;
      case "result":
      case "pong":
        this.lastPong = Date.now();
        if (frame.ref && this.pending.has(frame.ref)) {
          this.pending.get(frame.ref)(frame);
          this.pending.delete(frame.ref);
        }
        break;
      case "error":
        // A refused frame (bad_frame) answers its action, when the server names the ref.
        if (frame.ref && this.pending.has(frame.ref)) {
          this.pending.get(frame.ref)({ ok: false, errors: { [frame.field || "detail"]: [frame.message] } });
          this.pending.delete(frame.ref);
        }
        this.handlers.onError?.(frame);
        break;
    }
  }

  // Send an action frame; resolve with its result frame.
  send(frame) {
    const ref = `r${++this.refCounter}`;
    return new Promise((resolve) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        resolve({ ok: false, errors: { detail: [gettext("Not connected: try again when the connection is back.")] } });
        return;
      }
      this.pending.set(ref, resolve);
      this.ws.send(JSON.stringify({ ...frame, ref }));
      // A frame the server refuses as malformed is answered by an error frame without the ref.
      setTimeout(() => {
        if (!this.pending.has(ref)) return;
        this.pending.delete(ref);
        resolve({ ok: false, errors: { detail: [gettext("No answer from the server.")] } });
      }, ACTION_TIMEOUT_MS);
    });
  }

  startHeartbeat() {
    clearInterval(this.timer);
    this.lastPong = Date.now();
    this.heartbeat();
    this.timer = setInterval(() => {
      // No answer within two heartbeat intervals: the connection is dead even if the socket says not.
      if (Date.now() - this.lastPong > 2 * this.heartbeatS * 1000 + 1000) {
        const dead = this.ws;
        dead.close();
        this.dropped(dead);
        return;
      }
      this.heartbeat();
    }, this.heartbeatS * 1000);
  }

  heartbeat() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const health = this.handlers.health?.() || {};
    const frame = {
      type: "heartbeat",
      audio_armed: Boolean(health.audio_armed),
      page_visible: document.visibilityState === "visible",
      ref: `h${++this.refCounter}`,
    };
    this.ws.send(JSON.stringify(frame));
  }
}
