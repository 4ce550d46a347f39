// The screens' maps: Leaflet for everything one clicks (incidents, the draft, the console's clicks),
// drawn over our vector base map, which MapLibre GL JS renders underneath through its Leaflet layer
// (vendor/maplibre-gl-leaflet). The base layer is ours (the OSM extract) or a configured tile
// service (GET map/sources); on a GCJ-02 service the map's CRS shifts our WGS 84 overlays onto its
// streets and reads clicks back as WGS 84 (gcj02.js). gdMap stays a Leaflet map.

import { api, english, textTip } from "./common.js";
import { gcj02Crs } from "./gcj02.js";
import { BASEMAP_PREFIX, mapStyle, OURS_PREFIX } from "./map_style.js";

const WORKER_URL = new URL("../../vendor/maplibre-gl/maplibre-gl-csp-worker.js", import.meta.url).href;
const NO_SOURCES = { sources: [], basemap: null, ours: null };

let sourcesAnswer = null;
// The configured tile services, our base map and our tiles: asked once per page.
export function mapSources() {
  sourcesAnswer ||= api("map/sources").catch(() => NO_SOURCES);
  return sourcesAnswer;
}

// Leaflet's attribution and layers controls take HTML: configured names and credits go in as text.
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// A configured XYZ or WMTS service: its URL templates (one per subdomain, key added) taken in turn.
function sourceLayer(source) {
  const templates = source.tiles?.length ? source.tiles : [source.url];
  const layer = L.tileLayer(templates[0], { maxZoom: source.max_zoom || 18, attribution: escapeHtml(source.attribution) });
  layer.getTileUrl = function (coords) {
    this._url = templates[Math.abs(coords.x + coords.y) % templates.length];
    return L.TileLayer.prototype.getTileUrl.call(this, coords);
  };
  layer.options.datum = source.datum || "wgs84";
  return layer;
}

// A switch in the layers control for a group of MapLibre style layers (by id prefix).
const StyleSwitch = () => L.Layer.extend({
  initialize(options) { L.setOptions(this, options); },
  onAdd() { this.options.vector.show(this.options.prefix, true); },
  onRemove() { this.options.vector.show(this.options.prefix, false); },
});

// The MapLibre layer, with which groups of style layers are visible.
function vectorLayer(map, sources) {
  if (!window.maplibregl || !L.maplibreGL) return null;
  maplibregl.setWorkerUrl(WORKER_URL);
  map.createPane("vector").style.zIndex = 250; // above raster tiles, below Leaflet's overlays
  const visible = { [BASEMAP_PREFIX]: false, [OURS_PREFIX]: false };
  const style = mapStyle({ basemapTiles: sources.basemap?.tiles, oursTiles: sources.ours, english });
  const gl = L.maplibreGL({ pane: "vector", style, interactive: false });
  const apply = () => {
    const glMap = gl.getMaplibreMap?.();
    if (!glMap?.style?._loaded) return;
    for (const layer of glMap.getStyle().layers) {
      const prefix = Object.keys(visible).find((p) => layer.id.startsWith(p));
      if (prefix) glMap.setLayoutProperty(layer.id, "visibility", visible[prefix] ? "visible" : "none");
    }
  };
  gl.show = (prefix, on) => { visible[prefix] = on; apply(); };
  gl.on("add", () => gl.getMaplibreMap().on("load", apply));
  for (const layer of style.layers) layer.layout = { ...layer.layout, visibility: "none" };
  return gl;
}

// Draw our WGS 84 data where a GCJ-02 service draws the streets (or back on a WGS 84 / CGCS2000 one).
export function setDatum(map, datum) {
  const shifted = datum === "gcj02";
  if (Boolean(map.gdShifted) === shifted) return;
  const center = map.getCenter(), zoom = map.getZoom();
  map.options.crs = shifted ? gcj02Crs(L) : L.CRS.EPSG3857;
  map.gdShifted = shifted;
  map._resetView(center, zoom, true); // Leaflet's own re-projection of every layer (1.9.4)
}

// A Leaflet control: the map alone on the whole screen (the Fullscreen API), and back.
const Fullscreen = () => L.Control.extend({
  options: { position: "topleft" },
  onAdd(map) {
    const bar = L.DomUtil.create("div", "leaflet-bar gd-fullscreen");
    const button = L.DomUtil.create("a", "", bar);
    button.href = "#";
    button.role = "button";
    L.DomUtil.create("span", "gd-fullscreen-icon", button); // drawn by CSS: no font has to hold a glyph for it
    button.title = gettext("Full screen");
    button.setAttribute("aria-label", gettext("Full screen"));
    L.DomEvent.disableClickPropagation(bar);
    L.DomEvent.on(button, "click", (event) => {
      L.DomEvent.preventDefault(event);
      if (document.fullscreenElement) document.exitFullscreen();
      else map.getContainer().requestFullscreen?.();
    });
    document.addEventListener("fullscreenchange", () => map.invalidateSize());
    return bar;
  },
});

// Put the base layers, our layers and the controls on a Leaflet map; return the "our layers" group.
export async function addBaseLayers(map, { switcher = true } = {}) {
  const sources = await mapSources();
  const ours = L.layerGroup().addTo(map);
  const vector = vectorLayer(map, sources);
  const bases = {};
  if (vector && sources.basemap) {
    const Switch = StyleSwitch();
    bases[gettext("Our base map")] = new Switch({ vector, prefix: BASEMAP_PREFIX, attribution: escapeHtml(sources.basemap.attribution), datum: "wgs84" });
  }
  for (const source of sources.sources || []) bases[escapeHtml(source.name)] = sourceLayer(source);
  if (vector && sources.ours) new (StyleSwitch())({ vector, prefix: OURS_PREFIX }).addTo(ours);
  const first = Object.values(bases)[0];
  if (first) {
    setDatum(map, first.options.datum);
    first.addTo(map);
  }
  vector?.addTo(map);
  map.on("baselayerchange", (event) => setDatum(map, event.layer.options.datum));
  L.control.attribution({ prefix: false }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  new (Fullscreen())().addTo(map);
  if (switcher) map.gdLayers = L.control.layers(bases, { [escapeHtml(gettext("Our layers"))]: ours }).addTo(map);
  map.gdVector = vector;
  return ours;
}

// A Leaflet map with our base layers, our jurisdictions and county seats (the console and the dashboard).
export async function baseMap(element, { seats = true, simplify = 200 } = {}) {
  const map = L.map(element, { zoomControl: true, attributionControl: false, preferCanvas: false });
  map.setView([24, 100], 8);
  const ours = await addBaseLayers(map);
  const jurisdictions = await api(`jurisdictions?simplify=${simplify}`);
  const base = L.geoJSON(jurisdictions, {
    style: { color: "#37474f", weight: 1, fillColor: "#cfd8dc", fillOpacity: 0.35 },
    onEachFeature: (feature, layer) => layer.bindTooltip(textTip(feature.properties.name || String(feature.id)), { sticky: true }),
  }).addTo(ours);
  if (base.getLayers().length) map.fitBounds(base.getBounds(), { animate: false }); // no zoom animation: nothing drawn meanwhile lands astray
  map.gdJurisdictions = jurisdictions.features || []; // the county list of the console's search
  if (seats) {
    api("layers/county_seats/features").then((data) => {
      L.geoJSON(data, {
        pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 4, color: "#263238", weight: 1, fillColor: "#fff", fillOpacity: 1 }),
        onEachFeature: (feature, layer) => layer.bindTooltip(textTip(feature.properties.name || "")),
      }).addTo(ours);
    }).catch(() => {});
  }
  return map;
}

// Center the map on a place search result: its bbox when it has one, else the point at street zoom.
export function centerOn(map, result) {
  const [lon, lat] = result.location.coordinates;
  if (result.bbox) {
    const [west, south, east, north] = result.bbox;
    map.fitBounds([[south, west], [north, east]], { animate: false, maxZoom: 16 });
  } else {
    map.setView([lat, lon], Math.max(map.getZoom(), 16), { animate: false });
  }
}
