// A screen's connection indicator in the top bar (#conn): its state, a countdown to the next try
// that moves each second, and a "Retry now" button while offline (the stream gives the retry).

let ticker = null;

function label(state, seconds) {
  return {
    connecting: gettext("Connecting…"),
    online: gettext("Online"),
    reconnecting: gettext("Reconnecting…"),
    offline: interpolate(gettext("Offline — retrying in %(s)s s"), { s: seconds }, true),
  }[state];
}

function retryButton(el) {
  let button = document.getElementById("retry-now");
  if (!button) {
    button = document.createElement("button");
    button.type = "button";
    button.id = "retry-now";
    button.className = "retry-now";
    button.textContent = gettext("Retry now");
    button.hidden = true;
    el.after(button);
  }
  return button;
}

// detail (offline): {retryInS, retryAt (ms since the epoch), retry()}.
export function showConnection(state, detail) {
  const el = document.getElementById("conn");
  if (!el) return;
  clearInterval(ticker);
  ticker = null;
  el.dataset.state = state;
  const button = retryButton(el);
  button.hidden = state !== "offline" || !detail?.retry;
  button.onclick = detail?.retry ? () => detail.retry() : null;
  if (state !== "offline") {
    delete el.dataset.retryIn;
    el.textContent = label(state);
    return;
  }
  const retryAt = detail?.retryAt ?? Date.now() + (detail?.retryInS || 1) * 1000;
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    el.dataset.retryIn = String(seconds);
    el.textContent = label("offline", seconds);
  };
  tick();
  ticker = setInterval(tick, 1000);
}
