// The terminal's alarm (#13.6): Web Audio (no audio file), one sound pattern per cause, a flashing tab
// title and favicon, and desktop notifications. Browsers play sound only after a user gesture, so the
// wish to be armed is kept per browser (localStorage) and, after a reload or a language switch, the
// first gesture anywhere on the page arms it again.

const ARMED_KEY = "geodispatch.terminal.alarm-armed";

// [frequency Hz, on (1) / silent (0), milliseconds], repeated: a new ticket beeps high and fast; a lost
// connection drones low and slow, so the two are told apart without looking.
const PATTERNS = {
  ticket: [[880, 1, 180], [880, 0, 90], [1175, 1, 180], [1175, 0, 350]],
  test: [[880, 1, 180], [880, 0, 90], [1175, 1, 180], [1175, 0, 350]],
  disconnect: [[330, 1, 900], [330, 0, 250], [247, 1, 900], [247, 0, 900]],
};

function remembered() {
  try { return localStorage.getItem(ARMED_KEY) === "1"; } catch { return false; }
}

function remember(on) {
  try { on ? localStorage.setItem(ARMED_KEY, "1") : localStorage.removeItem(ARMED_KEY); } catch { /* private mode */ }
}

export class Alarm {
  constructor({ onChange = () => {} } = {}) {
    this.onChange = onChange;
    this.context = null;
    this.oscillator = null;
    this.gain = null;
    this.timer = null;
    this.started = 0; // how many times it began to sound (tests read it)
    this.pattern = null; // what sounds now: "ticket", "disconnect", "test" or null
    this.loud = false;
    this.wanted = remembered(); // armed in this browser before: re-arm on the first gesture
  }

  get armed() { return this.context !== null && this.context.state === "running"; }

  async arm() {
    this.context = this.context || new AudioContext();
    this.context.onstatechange = () => this.onChange();
    await this.context.resume();
    if (this.armed) { this.wanted = true; remember(true); }
    this.onChange();
  }

  // Arm again without a click where the browser allows it, else on the first gesture anywhere.
  rearm() {
    if (!this.wanted) return;
    this.context = new AudioContext();
    this.context.onstatechange = () => this.onChange();
    if (this.context.state !== "running") this.context.resume(); // settles only if the browser allows sound
    const onGesture = async () => {
      await this.arm();
      if (this.armed) ["pointerdown", "keydown", "touchstart"].forEach((name) => window.removeEventListener(name, onGesture, true));
    };
    ["pointerdown", "keydown", "touchstart"].forEach((name) => window.addEventListener(name, onGesture, true));
  }

  // Sound `pattern` (or nothing, with null); switching patterns restarts the sound.
  play(pattern) {
    if (pattern === this.pattern && (this.oscillator || !pattern)) return;
    this.stop();
    this.pattern = pattern;
    if (!pattern || !this.armed) return;
    this.gain = this.context.createGain();
    this.gain.gain.value = 0;
    this.oscillator = this.context.createOscillator();
    this.oscillator.type = pattern === "disconnect" ? "sawtooth" : "square";
    this.oscillator.connect(this.gain).connect(this.context.destination);
    this.oscillator.start();
    this.started += 1;
    const steps = PATTERNS[pattern];
    let i = 0;
    const step = () => {
      const [frequency, on, ms] = steps[i++ % steps.length];
      const now = this.context.currentTime;
      this.oscillator.frequency.setValueAtTime(frequency, now);
      this.gain.gain.setValueAtTime(on ? (this.loud ? 0.6 : 0.25) : 0, now);
      this.timer = setTimeout(step, ms);
    };
    step();
  }

  stop() {
    clearTimeout(this.timer);
    this.oscillator?.stop();
    this.oscillator?.disconnect();
    this.oscillator = null;
    this.pattern = null;
  }
}

// ---- the tab: a flashing title and favicon -------------------------------------------------

function iconUrl(color, mark) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 32;
  const g = canvas.getContext("2d");
  g.fillStyle = color;
  g.beginPath();
  g.arc(16, 16, 15, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#fff";
  g.font = "bold 24px sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(mark, 16, 17);
  return canvas.toDataURL("image/png");
}

export class TabSignal {
  constructor() {
    this.link = document.querySelector('link[rel~="icon"]');
    if (!this.link) {
      this.link = document.createElement("link");
      this.link.rel = "icon";
      this.link.href = iconUrl("#0d47a1", "G");
      document.head.append(this.link);
    }
    this.icon = this.link.href;
    this.alertIcon = null;
    this.title = document.title;
    this.text = null;
    this.timer = null;
    this.on = false;
  }

  // Flash `text` in the title and a red favicon once a second; null stops and restores both.
  flash(text) {
    if (text === this.text) return;
    this.text = text;
    clearInterval(this.timer);
    this.timer = null;
    if (!text) {
      document.title = this.title;
      this.link.href = this.icon;
      return;
    }
    this.alertIcon = this.alertIcon || iconUrl("#d50000", "!");
    const toggle = () => {
      this.on = !this.on;
      document.title = this.on ? `‼ ${this.text}` : this.title;
      this.link.href = this.on ? this.alertIcon : this.icon;
    };
    toggle();
    this.timer = setInterval(toggle, 1000);
  }
}

// ---- desktop notifications ---------------------------------------------------------------

export function canAskToNotify() {
  return "Notification" in window && Notification.permission === "default";
}

export function notify(title, body, tag) {
  if (!("Notification" in window) || Notification.permission !== "granted") return null;
  const note = new Notification(title, { body, tag, requireInteraction: true });
  note.onclick = () => { window.focus(); note.close(); };
  return note;
}
