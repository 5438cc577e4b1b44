// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { loadBasemap } from "./basemap";
import { BASEMAP_PANE, createMap, DEFAULT_CENTER, drawBasemap, fenceShapes, L, PANE_Z } from "./leafmap";
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
