// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { loadBasemap } from "./basemap";
import { BASEMAP_PANE, createMap, DEFAULT_CENTER, drawBasemap, fenceShapes, L, mapView, PANE_Z, setTileLayer } from "./leafmap";
import { addFenceVertex, CMD, newRallyPoint } from "./mission";

function mapElement(): HTMLDivElement {
  const el = document.createElement("div");
  // Leaflet sizes the map from these; happy-dom lays nothing out.
  Object.defineProperty(el, "clientWidth", { value: 800 });
  Object.defineProperty(el, "clientHeight", { value: 600 });
  document.body.append(el);
  return el;
}

/** A pane's z-index as the page computes it (leaflet.css is loaded: see vite.config.ts). */
function paneZ(map: L.Map, pane: string): number {
  const el = map.getPane(pane);
  if (el === undefined) throw new Error(`the map has no ${pane}`);
  return Number(getComputedStyle(el).zIndex);
}

describe("the map's layer stack", () => {
  it("puts the basemap under the tiles, and the tiles under the graticule, mission and markers", () => {
    const map = createMap(mapElement(), DEFAULT_CENTER, 4);
    try {
      const stack = [BASEMAP_PANE, "tilePane", "overlayPane", "markerPane"] as const;
      for (const pane of stack) expect(paneZ(map, pane)).toBe(PANE_Z[pane]);
      const z = stack.map((pane) => paneZ(map, pane));
      expect(z).toEqual([...z].sort((a, b) => a - b));
      expect(new Set(z).size).toBe(stack.length);
    } finally {
      map.remove();
    }
  });

  it("draws the basemap into its own pane, below a tile layer and the graticule", async () => {
    const map = createMap(mapElement(), DEFAULT_CENTER, 4);
    try {
      const pane = map.getPane(BASEMAP_PANE);
      expect(pane?.style.zIndex).toBe(String(PANE_Z[BASEMAP_PANE]));
      // createMap loads the basemap in the background; it arrives as paths in its pane.
      await vi.waitFor(() => expect(pane?.querySelectorAll("path").length ?? 0).toBeGreaterThan(0), { timeout: 10_000, interval: 50 });
      // The graticule is in the overlay pane, not mixed into the basemap.
      expect(map.getPane("overlayPane")?.querySelectorAll("path").length ?? 0).toBeGreaterThan(0);
      // A tile layer, the day there is one, lands in the pane above the basemap by default.
      const tiles = L.gridLayer();
      expect(tiles.options.pane).toBe("tilePane");
    } finally {
      map.remove();
    }
  });

  it("draws land, coastlines and borders, non-interactive", async () => {
    const map = createMap(mapElement(), DEFAULT_CENTER, 4);
    try {
      const group = drawBasemap(map, await loadBasemap());
      const layers = group.getLayers() as L.GeoJSON[];
      expect(layers).toHaveLength(3);
      for (const layer of layers) {
        expect(layer.options.pane).toBe(BASEMAP_PANE);
        expect(layer.options.interactive).toBe(false);
      }
    } finally {
      map.remove();
    }
  });

  it("does not draw into a map removed before the basemap arrived", async () => {
    const map = createMap(mapElement(), DEFAULT_CENTER, 4);
    map.remove();
    // Drawing into it would throw in the promise's callback, which fails this run as an
    // unhandled error; give the basemap time to arrive.
    await loadBasemap();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(map.getPane(BASEMAP_PANE)).toBeUndefined();
  });
});

describe("the tile layer", () => {
  const config = { url: "tile://localhost/{z}/{x}/{y}?g=1", attributionHtml: "© OpenStreetMap contributors", maxNativeZoom: 19 };

  it("asks the app's scheme for tiles, above the basemap, and credits the source while shown", () => {
    const el = mapElement();
    const map = createMap(el, DEFAULT_CENTER, 16);
    try {
      const layer = setTileLayer(map, null, config);
      expect(layer?.options.pane).toBe("tilePane");
      const srcs = [...el.querySelectorAll<HTMLImageElement>("img.leaflet-tile")].map((i) => i.getAttribute("src") ?? "");
      expect(srcs.length).toBeGreaterThan(0);
      expect(srcs.every((s) => /^tile:\/\/localhost\/16\/\d+\/\d+\?g=1$/.test(s))).toBe(true);
      expect(el.querySelector(".leaflet-control-attribution")?.textContent).toContain("© OpenStreetMap contributors");
      // Locked: no layer, no tiles, no attribution.
      expect(setTileLayer(map, layer, null)).toBeNull();
      expect(el.querySelectorAll("img.leaflet-tile")).toHaveLength(0);
      expect(el.querySelector(".leaflet-control-attribution")?.textContent ?? "").not.toContain("OpenStreetMap");
    } finally {
      map.remove();
    }
  });

  it("is replaced, not stacked, when the source or vault changes", () => {
    const el = mapElement();
    const map = createMap(el, DEFAULT_CENTER, 16);
    try {
      const first = setTileLayer(map, null, config);
      const second = setTileLayer(map, first, { ...config, url: "tile://localhost/{z}/{x}/{y}?g=2" });
      expect(map.hasLayer(first as L.TileLayer)).toBe(false);
      expect(map.hasLayer(second as L.TileLayer)).toBe(true);
      const srcs = [...el.querySelectorAll<HTMLImageElement>("img.leaflet-tile")].map((i) => i.getAttribute("src") ?? "");
      expect(srcs.every((s) => s.endsWith("?g=2"))).toBe(true);
    } finally {
      map.remove();
    }
  });

  it("reports the visible rectangle for area downloads", () => {
    const map = createMap(mapElement(), DEFAULT_CENTER, 16);
    try {
      const v = mapView(map);
      expect(v.zoom).toBe(16);
      expect(v.south).toBeLessThan(DEFAULT_CENTER[0]);
      expect(v.north).toBeGreaterThan(DEFAULT_CENTER[0]);
      expect(v.west).toBeLessThan(DEFAULT_CENTER[1]);
      expect(v.east).toBeGreaterThan(DEFAULT_CENTER[1]);
    } finally {
      map.remove();
    }
  });
});

describe("fence shapes", () => {
  it("draws polygons and circles of the fence, none of them interactive", () => {
    const poly = addFenceVertex(addFenceVertex(addFenceVertex([], -35.36, 149.16), -35.36, 149.17), -35.37, 149.17);
    const circle = { ...newRallyPoint(-35.365, 149.165, 0), command: CMD.FENCE_CIRCLE_EXCLUSION, param1: 40 };
    const shapes = fenceShapes([...poly, circle]);
    expect(shapes).toHaveLength(2);
    expect(shapes[0]).toBeInstanceOf(L.Polygon);
    expect(shapes[1]).toBeInstanceOf(L.Circle);
    expect((shapes[1] as L.Circle).getRadius()).toBe(40);
    expect(shapes.every((s) => s.options.interactive === false)).toBe(true);
  });
});
