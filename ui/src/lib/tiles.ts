// Map tiles as the page sees them: where to ask for them (the app's `tile` scheme, whose URL
// differs per platform), the tile layer's settings, and the area a download covers. Pure: the
// store (tiles.svelte.ts) and the maps use it, and its tests need no Leaflet.
import type { TileAreaView } from "./bindings/TileAreaView";
import type { TilesView } from "./bindings/TilesView";

/** The scheme the Rust side serves tiles on (src-tauri/src/tiles.rs). */
export const TILE_SCHEME = "tile";

/**
 * Where the web view reaches a custom scheme, as Tauri documents it: `tile://localhost/` on
 * Linux and macOS, `http://tile.localhost/` on Windows (WebView2) and Android. Both are in
 * the CSP's img-src, and nothing else that serves images from outside the app.
 */
export function tileOrigin(userAgent: string): string {
  return /Windows|Android/.test(userAgent) ? `http://${TILE_SCHEME}.localhost` : `${TILE_SCHEME}://localhost`;
}

/**
 * Leaflet's URL template for the tiles. `generation` changes whenever what the scheme serves
 * may have changed (the vault unlocked again, another source): a new URL is a fresh request,
 * never an image the web view kept from before.
 */
export function tileUrlTemplate(userAgent: string, generation: number): string {
  return `${tileOrigin(userAgent)}/{z}/{x}/{y}?g=${generation}`;
}

/** Whether an image URL is one of the app's tiles. */
export function isTileUrl(url: string): boolean {
  return url.startsWith(`${TILE_SCHEME}://localhost/`) || url.startsWith(`http://${TILE_SCHEME}.localhost/`);
}

/** What a map needs to draw the tile layer. */
export interface TileLayerConfig {
  url: string;
  /** HTML for the attribution control (escaped). */
  attributionHtml: string;
  /** The deepest zoom the source has: deeper, Leaflet scales these tiles up. */
  maxNativeZoom: number;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The tile layer for `tiles` (null: no layer, the basemap alone). */
export function tileLayerConfig(tiles: TilesView | null, userAgent: string, generation: number): TileLayerConfig | null {
  if (tiles === null) return null;
  return {
    url: tileUrlTemplate(userAgent, generation),
    attributionHtml: escapeHtml(tiles.source.attribution),
    maxNativeZoom: tiles.source.max_zoom,
  };
}

/** The rectangle a map shows, in degrees, and its zoom. */
export interface MapView {
  south: number;
  west: number;
  north: number;
  east: number;
  zoom: number;
}

/** Degrees of longitude wrapped into -180..180. */
function wrapLon(lon: number): number {
  const w = ((((lon + 180) % 360) + 360) % 360) - 180;
  return w === -180 && lon > 0 ? 180 : w;
}

/**
 * The area to download for what a map shows: the visible rectangle and a `margin` of it on
 * each side (a window a little larger or a pan next time still finds its tiles), clamped to
 * the tile grid's latitudes and the world's longitudes.
 */
export function areaOf(view: MapView, minZoom: number, maxZoom: number, margin = 0.1): TileAreaView {
  const dLat = (view.north - view.south) * margin;
  const dLon = (view.east - view.west) * margin;
  const width = view.east - view.west + 2 * dLon;
  const whole = width >= 360;
  return {
    south_deg: Math.max(-85.0511, view.south - dLat),
    north_deg: Math.min(85.0511, view.north + dLat),
    west_deg: whole ? -180 : wrapLon(view.west - dLon),
    east_deg: whole ? 180 : wrapLon(view.east + dLon),
    min_zoom: Math.max(0, Math.min(minZoom, maxZoom)),
    max_zoom: Math.max(0, maxZoom),
  };
}

/**
 * The zoom range offered for an area download: from a little above the map's zoom (for the
 * overview) to two zooms deeper, within what the source allows for downloads.
 */
export function defaultZooms(mapZoom: number, maxAreaZoom: number): [number, number] {
  const z = Math.round(mapZoom);
  const max = Math.max(0, Math.min(z + 2, maxAreaZoom));
  const min = Math.max(0, Math.min(z - 2, max));
  return [min, max];
}

/** "S,W,N,E" with five decimals (about a metre), as the CLI takes it. */
export function fmtArea(a: TileAreaView): string {
  return [a.south_deg, a.west_deg, a.north_deg, a.east_deg].map((v) => v.toFixed(5)).join(", ");
}

/** Whether the vehicle moved enough since the last point of its track to add a new one. */
export function movedEnough(last: [number, number] | undefined, lat: number, lon: number, minM = 1): boolean {
  if (last === undefined) return true;
  const rad = Math.PI / 180;
  const dy = (lat - last[0]) * 111_320;
  const dx = (lon - last[1]) * 111_320 * Math.cos(lat * rad);
  return Math.hypot(dx, dy) >= minM;
}

/** Parses "lat, lon" (degrees) as a pilot types it; null when it is not one. */
export function parseLatLon(text: string): [number, number] | null {
  const parts = text.trim().split(/[\s,;]+/).filter((p) => p.length > 0);
  if (parts.length !== 2) return null;
  const [lat, lon] = parts.map(Number) as [number, number];
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return [lat, lon];
}

/** Whether two download areas are the same (an estimate holds only for its own area). */
export function sameArea(a: TileAreaView | null, b: TileAreaView | null): boolean {
  if (a === null || b === null) return false;
  return (
    a.south_deg === b.south_deg &&
    a.west_deg === b.west_deg &&
    a.north_deg === b.north_deg &&
    a.east_deg === b.east_deg &&
    a.min_zoom === b.min_zoom &&
    a.max_zoom === b.max_zoom
  );
}
