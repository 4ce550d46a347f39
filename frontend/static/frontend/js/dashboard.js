// The leaders' dashboard (领导看板): live figures, refetched at most once every 2 s while events arrive.
// Wall mode (a button, or ?wall=1): full screen, the map first and large, for the command center's wall.

import {
  api, h, incidentMarker, incidentStatusLabel, nameOf, SEVERITY_COLORS, SEVERITY_ROMAN, showConnection, textTip, ticketStatusLabel,
} from "./common.js";
import { baseMap } from "./map.js";
import { Stream } from "./stream.js";

const THROTTLE_MS = 2000;
const STAGE_ORDER = ["issued", "delivered", "accepted", "confirmed", "resolved", "closed", "rejected", "cancelled"];
const TIMELINESS_STAGES = ["delivered", "accepted", "first_feedback", "closed"];
const $ = (id) => document.getElementById(id);
const state = { fetches: 0, dashboard: null, figures: null };
window.gdDashboard = state;

// ECharts renders an HTML tooltip with innerHTML and inline styles (refused by our CSP); rich text is drawn.
const TOOLTIP = { renderMode: "richText" };
const charts = {};
function chart(id) {
  charts[id] = charts[id] || echarts.init($(id), null, { renderer: "svg" });
  return charts[id];
}
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

// An empty chart says so instead of showing bare axes.
function showEmpty(id, empty) {
  const box = $(id);
  box.classList.toggle("empty", empty);
  let note = box.parentElement.querySelector(".no-data");
  if (!note) {
    note = h("p", { class: "no-data" }, gettext("No data"));
    box.after(note);
  }
  note.hidden = !empty;
}

function bar(id, labels, values, colors) {
  showEmpty(id, !values.some((v) => v > 0));
  chart(id).setOption({
    animation: false,
    grid: { left: 40, right: 10, top: 10, bottom: 50 },
    tooltip: TOOLTIP,
    xAxis: { type: "category", data: labels, axisLabel: { interval: 0, rotate: labels.length > 5 ? 30 : 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: values.map((v, i) => ({ value: v, itemStyle: colors ? { color: colors[i] } : undefined })) }],
  });
}

let categoryNames = {};

function renderFigures(d) {
  $("open-incidents").textContent = d.incidents.open;
  $("overdue-now").textContent = d.tickets.overdue_now;
  $("updated").textContent = new Date(d.generated_at).toLocaleTimeString(document.documentElement.lang, { hour12: false });
  const categories = Object.entries(d.incidents.open_by_category);
  bar("chart-category", categories.map(([code]) => categoryNames[code] || code), categories.map(([, n]) => n));
  const levels = ["1", "2", "3", "4"];
  bar("chart-severity", levels.map((l) => SEVERITY_ROMAN[l]), levels.map((l) => d.incidents.open_by_severity[l] || 0), levels.map((l) => SEVERITY_COLORS[l]));
  bar("chart-stage", STAGE_ORDER.map(ticketStatusLabel), STAGE_ORDER.map((s) => d.tickets.by_status[s] || 0));
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 120 ? `${value.toFixed(0)} s` : `${(value / 60).toFixed(1)} min`;
}

function stageName(stage) {
  return { delivered: gettext("To delivery"), accepted: gettext("To acceptance"), first_feedback: gettext("To first feedback"), closed: gettext("To closure") }[stage];
}


// A stage's figure; tickets that have not reached it yet count with their age so far, and say how many.
function stageCells(figures) {
  const open = figures.open ?? figures.not_reached ?? 0;
  const note = open ? h("span", { class: "open", title: gettext("not reached yet: counted with their age so far") },
    " ", interpolate(gettext("(%(n)s open)"), { n: open }, true)) : null;
  return [h("td", {}, seconds(figures.p50)), h("td", {}, seconds(figures.p90), note)];
}

function renderTimeliness(f) {
  $("total-incidents").textContent = f.reported.total;
  const rows = f.subcenters.map((row) => h("tr", { dataset: { code: row.code } },
    h("td", {}, nameOf(row)), h("td", {}, row.tickets),
    TIMELINESS_STAGES.flatMap((stage) => stageCells(row.seconds[stage]))));
  $("timeliness").tBodies[0].replaceChildren(...(rows.length ? rows : [h("tr", { class: "empty" }, h("td", { colspan: 10 }, gettext("No tickets in this period.")))]));
  const slowest = TIMELINESS_STAGES.filter((s) => f.slowest[s]).map((s) =>
    `${stageName(s)}: ${nameOf(f.slowest[s])} (${gettext("90th pct.")} ${seconds(f.slowest[s].p90)})`);
  $("slowest").textContent = slowest.length ? `${gettext("Slowest:")} ${slowest.join(" · ")}` : "";
  showEmpty("chart-hourly", !f.hourly.some((x) => x.incidents > 0));
  chart("chart-hourly").setOption({
    animation: false,
    grid: { left: 40, right: 10, top: 10, bottom: 30 },
    tooltip: { ...TOOLTIP, trigger: "axis" },
    xAxis: { type: "category", data: f.hourly.map((x) => x.hour.slice(11, 13)) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "line", name: gettext("Incidents"), data: f.hourly.map((x) => x.incidents), areaStyle: {} }],
  });
}

let map, markerLayer;
function renderMap(collection) {
  markerLayer?.remove();
  markerLayer = L.layerGroup(collection.features.map((f) =>
    incidentMarker({ ...f.properties, location: f.geometry })
      .bindTooltip(textTip(SEVERITY_ROMAN[f.properties.severity], " · ", f.properties.title, " · ", incidentStatusLabel(f.properties.status))))).addTo(map);
}

async function refresh() {
  state.fetches += 1;
  const [dashboard, figures, active] = await Promise.all([
    api("dashboard"), api("dashboard/figures"), api("incidents?status=triage,dispatched,acknowledged,resolved&limit=1000"),
  ]);
  Object.assign(state, { dashboard, figures });
  renderFigures(dashboard);
  renderTimeliness(figures);
  if (map) renderMap(active);
  document.body.dataset.fetches = state.fetches;
}

// At most one refetch per THROTTLE_MS, and always one after the last event of a burst.
let last = 0, timer = null;
function refreshSoon() {
  if (timer) return;
  const wait = Math.max(0, last + THROTTLE_MS - Date.now());
  timer = setTimeout(async () => {
    timer = null;
    last = Date.now();
    try { await refresh(); } catch (error) { console.warn(error); }
  }, wait);
}

// Wall mode: the map first and large, the page full screen when the browser allows it.
function setWall(on) {
  document.body.classList.toggle("wall", on);
  $("wall-mode").setAttribute("aria-pressed", String(on));
  const url = new URL(location.href);
  if (on) url.searchParams.set("wall", "1"); else url.searchParams.delete("wall");
  history.replaceState(null, "", url);
  requestAnimationFrame(() => { map?.invalidateSize(); Object.values(charts).forEach((c) => c.resize()); });
}

function wallButton() {
  $("wall-mode").addEventListener("click", () => {
    const on = !document.body.classList.contains("wall");
    setWall(on);
    if (on) document.documentElement.requestFullscreen?.().catch(() => {});
    else if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  });
  document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement) setWall(false); });
  if (new URLSearchParams(location.search).get("wall") === "1") setWall(true);
}

async function main() {
  wallButton();
  const categories = (await api("categories")).categories;
  categoryNames = Object.fromEntries(categories.map((c) => [c.code, nameOf(c)]));
  map = await baseMap($("map"), { seats: false, simplify: 500 });
  last = Date.now();
  await refresh();
  const stream = new Stream({ onEvent: refreshSoon, onState: showConnection });
  window.gdStream = stream.start();
  setInterval(refreshSoon, 30000); // deadlines pass without events
  document.body.dataset.ready = "true";
}

main();
