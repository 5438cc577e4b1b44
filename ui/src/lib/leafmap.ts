// Leaflet set up the Airgap way: no tile layer at all (nothing is fetched from anywhere; the
// CSP would block it anyway), a graticule for a background, a metric scale, and the markers
// both maps draw. Tiles from the vault come later.
import * as L from "leaflet";
import "leaflet/dist/leaflet.css";
import { graticuleStep, gridValues } from "./graticule";

export { L };

/** Where a map opens before any position is known (ArduPilot SITL's home, Canberra). */
export const DEFAULT_CENTER: [number, number] = [-35.363261, 149.16523];

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
  addGraticule(map);
  L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
  return map;
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
