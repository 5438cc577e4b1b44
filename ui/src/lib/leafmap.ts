// Leaflet set up the Airgap way: nothing is fetched from anywhere (the CSP would block it
// anyway). Under everything lies the world basemap bundled with the app, then the vault's
// tiles (only through the app's `tile` scheme, only while the vault is unlocked), a
// graticule, a metric scale, and the markers and shapes every map draws.
import * as L from "leaflet";
import "leaflet/dist/leaflet.css";
import type { MissionItemView } from "./bindings/MissionItemView";
import { type Basemap, loadBasemap } from "./basemap";
import { graticuleStep, gridValues } from "./graticule";
import { fenceCircles, fencePolygons } from "./mission";
import type { TileLayerConfig } from "./tiles";

export { L };

/** Where a map opens before any position is known (ArduPilot SITL's home, Canberra). */
export const DEFAULT_CENTER: [number, number] = [-35.363261, 149.16523];

/** The pane the basemap draws in: below Leaflet's tilePane, so tiles cover it where they exist. */
export const BASEMAP_PANE = "basemapPane";

/**
 * The layer stack, bottom to top, as pane z-indexes (Leaflet's own panes keep their defaults).
 * A tile layer (the vault's tile cache, or an online source through the egress gate) goes in
 * `tilePane`: `L.tileLayer(url).addTo(map)` lands there by default and hides the basemap
 * wherever it has a tile, while the basemap still shows through the gaps.
 */
export const PANE_Z = {
  [BASEMAP_PANE]: 150,
  tilePane: 200,
  overlayPane: 400,
  markerPane: 600,
} as const;

export function createMap(el: HTMLElement, center: [number, number], zoom: number): L.Map {
  const map = L.map(el, {
    attributionControl: false,
    zoomControl: true,
    minZoom: 3,
    maxZoom: 21,
    zoomSnap: 0.5,
    // Double-click adds waypoints on the Plan map; zooming on it would move them.
    doubleClickZoom: false,
    keyboard: false,
  });
  map.setView(center, zoom);
  addBasemap(map);
  // A tile layer is added here: it goes in tilePane (PANE_Z), above the basemap and below
  // the graticule, whatever the order of adding.
  addGraticule(map);
  L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
  // Shows the tile source's attribution while its layer is on the map; no Leaflet link.
  L.control.attribution({ prefix: false, position: "bottomright" }).addTo(map);
  return map;
}

/**
 * Puts the tile layer `config` asks for on `map` in place of `current` (removed when `config`
 * is null: the vault locked) and returns the layer now shown. Tiles that fail (a miss, the
 * vault locked meanwhile) stay hidden, so the basemap shows there.
 */
export function setTileLayer(map: L.Map, current: L.TileLayer | null, config: TileLayerConfig | null): L.TileLayer | null {
  current?.remove();
  if (config === null) return null;
  return L.tileLayer(config.url, {
    attribution: config.attributionHtml,
    maxNativeZoom: config.maxNativeZoom,
    maxZoom: map.getMaxZoom(),
    // Tiles of the zooms around stay while new ones come: no flash of basemap on zoom.
    keepBuffer: 2,
  }).addTo(map);
}

/** The rectangle and zoom `map` shows now. */
export function mapView(map: L.Map): { south: number; west: number; north: number; east: number; zoom: number } {
  const b = map.getBounds();
  return { south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast(), zoom: map.getZoom() };
}

const BASEMAP_STYLE = {
  land: { stroke: false, fill: true, fillColor: "#1a2634", fillOpacity: 1 },
  coastlines: { color: "#48627f", weight: 1, opacity: 1, fill: false },
  borders: { color: "#3b5068", weight: 1, opacity: 1, dashArray: "4 3", fill: false },
} satisfies Record<keyof Basemap, L.PathOptions>;

function basemapPane(map: L.Map): HTMLElement {
  const pane = map.getPane(BASEMAP_PANE) ?? map.createPane(BASEMAP_PANE);
  pane.style.zIndex = String(PANE_Z[BASEMAP_PANE]);
  return pane;
}

/** Draws the basemap into its pane, under the tiles. */
export function drawBasemap(map: L.Map, basemap: Basemap): L.LayerGroup {
  basemapPane(map);
  // Its own renderer, so its paths live in its pane. Padding: pans show land, not a blank edge.
  const renderer = L.svg({ pane: BASEMAP_PANE, padding: 0.5 });
  const common = { pane: BASEMAP_PANE, renderer, interactive: false };
  return L.layerGroup([
    L.geoJSON(basemap.land, { ...common, style: () => BASEMAP_STYLE.land }),
    L.geoJSON(basemap.coastlines, { ...common, style: () => BASEMAP_STYLE.coastlines }),
    L.geoJSON(basemap.borders, { ...common, style: () => BASEMAP_STYLE.borders }),
  ]).addTo(map);
}

/** The pane now, so the stack is in place from the start; the data when its chunk is in. */
function addBasemap(map: L.Map): void {
  basemapPane(map);
  let removed = false;
  map.once("unload", () => (removed = true));
  loadBasemap().then(
    (basemap) => {
      if (!removed) drawBasemap(map, basemap);
    },
    // Not expected with the bundled file; the graticule alone still makes a usable map.
    (e: unknown) => console.error("world basemap:", e),
  );
}

function addGraticule(map: L.Map): void {
  const layer = L.layerGroup().addTo(map);
  const draw = () => {
    layer.clearLayers();
    const b = map.getBounds();
    const south = Math.max(-85, b.getSouth());
    const north = Math.min(85, b.getNorth());
    const west = b.getWest();
    const east = b.getEast();
    const step = graticuleStep(Math.min(north - south, east - west));
    const style: L.PolylineOptions = { color: "#2a3a4d", weight: 1, interactive: false };
    for (const lat of gridValues(south, north, step))
      layer.addLayer(L.polyline([[lat, west], [lat, east]], style));
    for (const lon of gridValues(west, east, step))
      layer.addLayer(L.polyline([[south, lon], [north, lon]], style));
  };
  map.on("moveend zoomend resize", draw);
  draw();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round numbered marker (waypoints, rally points). */
export function labelIcon(label: string, kind: "wp" | "wp-selected" | "rally" | "home" | "fence"): L.DivIcon {
  const size = kind === "fence" ? 12 : 24;
  return L.divIcon({
    className: `ag-marker ag-${kind}`,
    html: kind === "fence" ? "" : `<span>${escapeHtml(label)}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

/** The vehicle: an arrow pointing along its heading. */
export function vehicleIcon(): L.DivIcon {
  return L.divIcon({
    className: "ag-vehicle",
    html:
      '<svg viewBox="-16 -16 32 32" width="32" height="32"><path d="M0,-14 L10,12 L0,6 L-10,12 Z" ' +
      'fill="#ffb020" stroke="#0a0e13" stroke-width="2"/></svg>',
    iconSize: [32, 32],
    iconAnchor: [16, 16],
  });
}

/** Turns the vehicle marker's arrow to `headingDeg`. */
export function setHeading(marker: L.Marker, headingDeg: number | null): void {
  const svg = marker.getElement()?.querySelector("svg");
  if (svg) svg.style.transform = `rotate(${headingDeg ?? 0}deg)`;
}

const FENCE_STYLE = {
  inclusion: { color: "#ff4d4f", weight: 2, dashArray: "6 4", fillOpacity: 0.06 },
  exclusion: { color: "#ff4d4f", weight: 2, fillOpacity: 0.25 },
} satisfies Record<string, L.PathOptions>;

/** The geofence's shapes (polygons and circles), not interactive: the Plan map adds handles. */
export function fenceShapes(fence: MissionItemView[]): L.Path[] {
  const out: L.Path[] = [];
  for (const poly of fencePolygons(fence)) {
    const style = poly.inclusion ? FENCE_STYLE.inclusion : FENCE_STYLE.exclusion;
    out.push(L.polygon(poly.vertices, { ...style, interactive: false }));
  }
  for (const c of fenceCircles(fence)) {
    const style = c.inclusion ? FENCE_STYLE.inclusion : FENCE_STYLE.exclusion;
    out.push(L.circle(c.center, { ...style, radius: c.radiusM, interactive: false }));
  }
  return out;
}
