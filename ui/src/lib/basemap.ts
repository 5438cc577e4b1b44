// The world basemap: land, coastlines and country borders from Natural Earth 1:50m (public
// domain), as the `world-atlas` npm package ships them in TopoJSON. Bundled with the app, so a
// map is never blank with no network and no tile cache. This module owns the data and its
// geometry (pure, unit-tested); leafmap.ts draws it.
import type { Feature, FeatureCollection, MultiLineString, MultiPolygon, Polygon, Position } from "geojson";
import { feature, mesh } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";

/** What the map draws, bottom to top. */
export interface Basemap {
  /** Land areas (the fill; their outlines are the coastlines). */
  land: Feature<Polygon | MultiPolygon>[];
  /** Land outlines. */
  coastlines: MultiLineString;
  /** Borders between countries (land boundaries only, never a coastline twice). */
  borders: MultiLineString;
}

export class BasemapError extends Error {
  override name = "BasemapError";
}

type WorldTopology = Topology<{ land: GeometryCollection; countries: GeometryCollection }>;

function isWorldTopology(value: unknown): value is WorldTopology {
  if (typeof value !== "object" || value === null) return false;
  const t = value as { type?: unknown; arcs?: unknown; objects?: Record<string, { type?: unknown } | undefined> };
  return (
    t.type === "Topology" &&
    Array.isArray(t.arcs) &&
    t.objects?.land?.type === "GeometryCollection" &&
    t.objects?.countries?.type === "GeometryCollection"
  );
}

function isArea(f: Feature): f is Feature<Polygon | MultiPolygon> {
  return f.geometry?.type === "Polygon" || f.geometry?.type === "MultiPolygon";
}

/** Turns world-atlas's `countries-*.json` text into the layers the map draws. */
export function parseBasemap(json: string): Basemap {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new BasemapError(`the world basemap is not JSON: ${String(e)}`);
  }
  if (!isWorldTopology(parsed)) throw new BasemapError("the world basemap is not a TopoJSON world atlas");
  const land: FeatureCollection = feature(parsed, parsed.objects.land);
  return {
    land: land.features.filter(isArea),
    // An arc used by one land polygon only is a coastline; one shared by two countries is a border.
    coastlines: mesh(parsed, parsed.objects.land),
    borders: mesh(parsed, parsed.objects.countries, (a, b) => a !== b),
  };
}

/**
 * The bundled basemap. A separate chunk (750 kB of JSON) so the app starts without waiting for
 * it; the module loader keeps it once loaded, each map parses its own copy (a few ms).
 */
export async function loadBasemap(): Promise<Basemap> {
  const text = await import("world-atlas/countries-50m.json?raw");
  return parseBasemap(text.default);
}

// ---------------------------------------------------------------------------------------------
// Point in polygon, on the plate carrée the data is drawn in (fine for "is this land?").

/** Even-odd ray casting over all rings, so a hole (a lake, an enclave) counts as outside. */
function inRings(rings: Position[][], latDeg: number, lonDeg: number): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i] as [number, number];
      const [xj, yj] = ring[j] as [number, number];
      if (yi > latDeg !== yj > latDeg && lonDeg < ((xj - xi) * (latDeg - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Whether a polygon or multipolygon covers a point. */
export function covers(geometry: Polygon | MultiPolygon, latDeg: number, lonDeg: number): boolean {
  if (geometry.type === "Polygon") return inRings(geometry.coordinates, latDeg, lonDeg);
  return geometry.coordinates.some((polygon) => inRings(polygon, latDeg, lonDeg));
}

/** Whether the basemap has land at a point. */
export function isLand(map: Basemap, latDeg: number, lonDeg: number): boolean {
  return map.land.some((f) => covers(f.geometry, latDeg, lonDeg));
}
