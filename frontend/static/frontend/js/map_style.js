// The MapLibre style of our vector tiles (docs/PROTOCOL.md, "Vector tiles"): the `basemap` tile set
// (roads by class, water, land use, buildings, places, POIs) and the `ours` tile set (jurisdictions,
// their labels, layer features). Labels show the name the tiles carry; glyphs are drawn in the
// browser from local fonts (no `glyphs` URL: MapLibre then renders every glyph with TinySDF).
//
// MapLibre zooms are Leaflet's minus one (512-pixel tiles): "z13" here is Leaflet's 14.

export const BASEMAP_PREFIX = "basemap-"; // layers shown only while our base map is the base layer
export const OURS_PREFIX = "ours-"; // layers of the "our layers" overlay

const FONT = ["sans-serif"];
const HALO = { "text-halo-color": "rgba(255,255,255,0.9)", "text-halo-width": 1.5 };
const name = (english) => ["coalesce", ["get", english ? "name_en" : "name_zh"], ["get", "name"]];

const ROAD_COLORS = [
  "match", ["get", "kind"],
  "motorway", "#e8927c", "trunk", "#f9b29c", "primary", "#fcd6a4", "secondary", "#f7fabf",
  "tertiary", "#ffffff", "path", "#fa8072", "track", "#ac8327", "#ffffff",
];
const ROAD_WIDTHS = (scale) => [
  "interpolate", ["exponential", 1.6], ["zoom"],
  6, ["*", scale, ["match", ["get", "kind"], ["motorway", "trunk"], 1.5, "primary", 1, 0.5]],
  12, ["*", scale, ["match", ["get", "kind"], ["motorway", "trunk"], 4, ["primary", "secondary"], 3, "tertiary", 2.5, ["path", "track"], 1, 1.8]],
  17, ["*", scale, ["match", ["get", "kind"], ["motorway", "trunk"], 16, ["primary", "secondary"], 14, "tertiary", 12, ["path", "track"], 2, 9]],
];
const LANDUSE_COLORS = [
  "match", ["get", "kind"],
  ["forest", "wood"], "#add19e", ["grass", "meadow", "park", "recreation_ground"], "#cdebb0",
  ["farmland", "farmyard", "orchard", "vineyard"], "#eef0d5", "industrial", "#ebdbe8",
  ["commercial", "retail"], "#f2dad9", "residential", "#e0dfdf", "#e8e6df",
];

function basemapLayers(english) {
  const text = name(english);
  return [
    { id: "basemap-background", type: "background", paint: { "background-color": "#f2efe9" } },
    { id: "basemap-landuse", type: "fill", source: "basemap", "source-layer": "landuse", paint: { "fill-color": LANDUSE_COLORS, "fill-opacity": 0.8 } },
    { id: "basemap-water-areas", type: "fill", source: "basemap", "source-layer": "water", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#aad3df" } },
    { id: "basemap-waterways", type: "line", source: "basemap", "source-layer": "water", filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": "#aad3df", "line-width": ["interpolate", ["linear"], ["zoom"], 8, ["match", ["get", "kind"], "river", 1.5, 0.5], 16, ["match", ["get", "kind"], "river", 8, 2]] } },
    { id: "basemap-buildings", type: "fill", source: "basemap", "source-layer": "buildings", minzoom: 13, paint: { "fill-color": "#d9d0c9", "fill-outline-color": "#bca9a0" } },
    { id: "basemap-road-casings", type: "line", source: "basemap", "source-layer": "roads", filter: ["!", ["in", ["get", "kind"], ["literal", ["path", "track"]]]],
      layout: { "line-cap": "round", "line-join": "round" }, paint: { "line-color": "#b0a89c", "line-width": ROAD_WIDTHS(1.3) } },
    { id: "basemap-roads", type: "line", source: "basemap", "source-layer": "roads", layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": ROAD_COLORS, "line-width": ROAD_WIDTHS(1) } },
    { id: "basemap-water-labels", type: "symbol", source: "basemap", "source-layer": "water", minzoom: 12,
      layout: { "text-field": text, "text-font": FONT, "text-size": 11 }, paint: { "text-color": "#3a6f8f", ...HALO } },
    { id: "basemap-road-labels", type: "symbol", source: "basemap", "source-layer": "roads", minzoom: 13,
      layout: { "text-field": text, "text-font": FONT, "text-size": 11, "symbol-placement": "line" }, paint: { "text-color": "#444", ...HALO } },
    { id: "basemap-poi-labels", type: "symbol", source: "basemap", "source-layer": "pois", minzoom: 14,
      layout: { "text-field": text, "text-font": FONT, "text-size": 10, "text-offset": [0, 0.6], "text-anchor": "top" }, paint: { "text-color": "#6b4a2b", ...HALO } },
    { id: "basemap-poi-dots", type: "circle", source: "basemap", "source-layer": "pois", minzoom: 14, paint: { "circle-radius": 2.5, "circle-color": "#8d6e63" } },
    { id: "basemap-place-labels", type: "symbol", source: "basemap", "source-layer": "places",
      layout: {
        "text-field": text, "text-font": FONT,
        "text-size": ["match", ["get", "kind"], "city", 16, "town", 14, "village", 12, 11],
        "symbol-sort-key": ["match", ["get", "kind"], "city", 0, "town", 1, "village", 2, 3],
      },
      paint: { "text-color": "#222", ...HALO } },
  ];
}

function oursLayers(english) {
  const text = name(english);
  return [
    { id: "ours-features", type: "circle", source: "ours", "source-layer": "features", filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 1.5, 14, 4], "circle-color": "#5e35b1", "circle-stroke-color": "#fff", "circle-stroke-width": 0.5 } },
    { id: "ours-feature-labels", type: "symbol", source: "ours", "source-layer": "features", minzoom: 13,
      layout: { "text-field": text, "text-font": FONT, "text-size": 10, "text-offset": [0, 0.7], "text-anchor": "top" }, paint: { "text-color": "#4527a0", ...HALO } },
    { id: "ours-county-labels", type: "symbol", source: "ours", "source-layer": "jurisdiction_labels", filter: ["==", ["get", "level"], "county"],
      layout: { "text-field": text, "text-font": FONT, "text-size": 14 }, paint: { "text-color": "#263238", ...HALO } },
    { id: "ours-township-labels", type: "symbol", source: "ours", "source-layer": "jurisdiction_labels", minzoom: 9,
      filter: ["!", ["in", ["get", "level"], ["literal", ["county", "city", "province"]]]],
      layout: { "text-field": text, "text-font": FONT, "text-size": 11 }, paint: { "text-color": "#455a64", ...HALO } },
  ];
}

// The style for MapLibre: both tile sets, absolute tile URLs (MapLibre's workers fetch them).
export function mapStyle({ basemapTiles, oursTiles, english }) {
  const absolute = (path) => (path.startsWith("/") ? location.origin + path : path); // new URL() would escape {z}
  const sources = {};
  const layers = [];
  if (basemapTiles) {
    sources.basemap = { type: "vector", tiles: [absolute(basemapTiles)], minzoom: 0, maxzoom: 15 };
    layers.push(...basemapLayers(english));
  }
  if (oursTiles) {
    sources.ours = { type: "vector", tiles: [absolute(oursTiles)], minzoom: 0, maxzoom: 14 };
    layers.push(...oursLayers(english));
  }
  return { version: 8, sources, layers };
}
