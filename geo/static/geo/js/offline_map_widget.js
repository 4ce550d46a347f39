// The admin's map widget over our own jurisdictions (geo/templates/geo/offline_map_widget.html).
// It runs right after its wrapper is parsed, as Django's inline script did, and makes the global
// MapWidget (window.geodjango_<field>) that Django's gis/js/OLMapWidget.js expects.
(function () {
  "use strict";
  const wrapper = document.currentScript.closest(".dj_map_wrapper");
  const options = wrapper.dataset;
  const baseLayer = new ol.layer.Vector({
    declutter: true,
    source: new ol.source.Vector({ url: options.baseLayerUrl, format: new ol.format.GeoJSON() }),
    style: (feature) => new ol.style.Style({
      stroke: new ol.style.Stroke({ color: "#6b7280", width: 1 }),
      fill: new ol.style.Fill({ color: "rgba(107, 114, 128, 0.08)" }),
      text: new ol.style.Text({ text: feature.get("name") || "", fill: new ol.style.Fill({ color: "#374151" }) }),
    }),
  });
  const widget = new MapWidget({
    base_layer: baseLayer,
    geom_name: options.geomName,
    id: options.id,
    map_id: `${options.id}_map`,
    map_srid: Number(options.mapSrid),
    name: options.name,
  });
  window[options.module] = widget;
  baseLayer.getSource().once("featuresloadend", () => {
    const extent = baseLayer.getSource().getExtent();
    if (!document.getElementById(options.id).value && !ol.extent.isEmpty(extent)) {
      widget.map.getView().fit(extent, { padding: [20, 20, 20, 20] });
    }
  });
})();
