// WGS 84 ↔ GCJ-02 (火星坐标), the offset datum of Chinese web maps: a port of geo/gcj02.py, point by point.
// The forward offset is closed-form; the inverse is solved by fixed-point iteration to 1e-9 degrees.

const A = 6378245.0; // semi-major axis of the Krasovsky 1940 ellipsoid used by the formula
const EE = 0.00669342162296594323; // its first eccentricity squared
const TOLERANCE_DEG = 1e-9;
const MAX_STEPS = 30;
const { PI, sin, cos, sqrt, abs } = Math;

function outsideChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

// The (dlon, dlat) GCJ-02 offset in degrees at a WGS 84 point.
function offset(lon, lat) {
  if (outsideChina(lon, lat)) return [0, 0];
  const x = lon - 105.0, y = lat - 35.0;
  const common = (20.0 * sin(6.0 * x * PI) + 20.0 * sin(2.0 * x * PI)) * 2.0 / 3.0;
  let dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x));
  dlat += common;
  dlat += (20.0 * sin(y * PI) + 40.0 * sin(y / 3.0 * PI)) * 2.0 / 3.0;
  dlat += (160.0 * sin(y / 12.0 * PI) + 320.0 * sin(y * PI / 30.0)) * 2.0 / 3.0;
  let dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x));
  dlon += common;
  dlon += (20.0 * sin(x * PI) + 40.0 * sin(x / 3.0 * PI)) * 2.0 / 3.0;
  dlon += (150.0 * sin(x / 12.0 * PI) + 300.0 * sin(x / 30.0 * PI)) * 2.0 / 3.0;
  const radlat = lat / 180.0 * PI;
  const magic = 1 - EE * sin(radlat) ** 2;
  const sqrtmagic = sqrt(magic);
  dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
  dlon = (dlon * 180.0) / (A / sqrtmagic * cos(radlat) * PI);
  return [dlon, dlat];
}

// GCJ-02 [lon, lat] of a WGS 84 point.
export function wgs84ToGcj02(lon, lat) {
  const [dlon, dlat] = offset(lon, lat);
  return [lon + dlon, lat + dlat];
}

// WGS 84 [lon, lat] of a GCJ-02 point, to about 0.1 mm.
export function gcj02ToWgs84(lon, lat) {
  let wgsLon = lon, wgsLat = lat;
  for (let step = 0; step < MAX_STEPS; step++) {
    const [fwdLon, fwdLat] = wgs84ToGcj02(wgsLon, wgsLat);
    const errLon = fwdLon - lon, errLat = fwdLat - lat;
    wgsLon -= errLon;
    wgsLat -= errLat;
    if (abs(errLon) < TOLERANCE_DEG && abs(errLat) < TOLERANCE_DEG) break;
  }
  return [wgsLon, wgsLat];
}

// A Leaflet CRS that draws WGS 84 lat/lngs where a GCJ-02 tile source shows them, and reads a
// point on the screen back as WGS 84: overlays shift, clicks come back unshifted, tiles stay put.
export function gcj02Crs(L) {
  const mercator = L.Projection.SphericalMercator;
  const projection = {
    bounds: mercator.bounds,
    project(latlng) {
      const [lon, lat] = wgs84ToGcj02(latlng.lng, latlng.lat);
      return mercator.project(L.latLng(lat, lon));
    },
    unproject(point) {
      const shifted = mercator.unproject(point);
      const [lon, lat] = gcj02ToWgs84(shifted.lng, shifted.lat);
      return L.latLng(lat, lon);
    },
  };
  return L.extend({}, L.CRS.EPSG3857, { code: "GCJ02", projection });
}
