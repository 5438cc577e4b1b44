import { describe, expect, it } from "vitest";
import type { TilesView } from "./bindings/TilesView";
import {
  areaOf,
  defaultZooms,
  escapeHtml,
  isTileUrl,
  movedEnough,
  parseLatLon,
  sameArea,
  tileLayerConfig,
  tileOrigin,
  tileUrlTemplate,
} from "./tiles";

const LINUX_UA = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)";
const MAC_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)";
const WINDOWS_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";

const osm: TilesView = {
  source: {
    name: "openstreetmap",
    url_template: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    is_openstreetmap: true,
    attribution: "© OpenStreetMap contributors",
    max_zoom: 19,
    max_area_zoom: 16,
    max_area_tiles: 2500,
  },
  caches: [],
  sealed: false,
};

describe("tile URLs", () => {
  it("use the custom scheme on Linux and macOS and the localhost host on Windows", () => {
    expect(tileOrigin(LINUX_UA)).toBe("tile://localhost");
    expect(tileOrigin(MAC_UA)).toBe("tile://localhost");
    expect(tileOrigin(WINDOWS_UA)).toBe("http://tile.localhost");
  });

  it("carry Leaflet's placeholders and a generation that changes the URL", () => {
    expect(tileUrlTemplate(LINUX_UA, 3)).toBe("tile://localhost/{z}/{x}/{y}?g=3");
    expect(tileUrlTemplate(WINDOWS_UA, 0)).toBe("http://tile.localhost/{z}/{x}/{y}?g=0");
    expect(tileUrlTemplate(LINUX_UA, 1)).not.toBe(tileUrlTemplate(LINUX_UA, 2));
  });

  it("are told apart from any other image", () => {
    expect(isTileUrl("tile://localhost/16/1/2?g=1")).toBe(true);
    expect(isTileUrl("http://tile.localhost/16/1/2")).toBe(true);
    expect(isTileUrl("https://tile.openstreetmap.org/16/1/2.png")).toBe(false);
    expect(isTileUrl("http://tile.localhost.example.com/1/2/3")).toBe(false);
  });
});

describe("the tile layer", () => {
  it("is absent without tile settings (vault locked): the basemap alone", () => {
    expect(tileLayerConfig(null, LINUX_UA, 1)).toBeNull();
  });

  it("credits the source, escaped, and scales up past its deepest zoom", () => {
    const c = tileLayerConfig(osm, LINUX_UA, 2);
    expect(c?.attributionHtml).toBe("© OpenStreetMap contributors");
    expect(c?.maxNativeZoom).toBe(19);
    expect(c?.url).toBe("tile://localhost/{z}/{x}/{y}?g=2");
    const evil = { ...osm, source: { ...osm.source, attribution: 'Map tiles: <img src=x onerror="1">' } };
    expect(tileLayerConfig(evil, LINUX_UA, 2)?.attributionHtml).not.toContain("<");
    expect(escapeHtml("a&b")).toBe("a&#38;b");
  });
});

describe("the download area", () => {
  it("is the visible rectangle with a margin", () => {
    const a = areaOf({ south: -35.4, west: 149.1, north: -35.3, east: 149.2, zoom: 16 }, 14, 17);
    expect(a.south_deg).toBeCloseTo(-35.41);
    expect(a.north_deg).toBeCloseTo(-35.29);
    expect(a.west_deg).toBeCloseTo(149.09);
    expect(a.east_deg).toBeCloseTo(149.21);
    expect([a.min_zoom, a.max_zoom]).toEqual([14, 17]);
  });

  it("stays on the tile grid near the poles and wraps at the antimeridian", () => {
    const polar = areaOf({ south: 80, west: 10, north: 85, east: 20, zoom: 5 }, 3, 5);
    expect(polar.north_deg).toBeLessThanOrEqual(85.0511);
    const dateline = areaOf({ south: -20, west: 179, north: -19, east: 181, zoom: 9 }, 8, 9);
    expect(dateline.west_deg).toBeCloseTo(178.8);
    expect(dateline.east_deg).toBeCloseTo(-178.8);
    const world = areaOf({ south: -60, west: -200, north: 60, east: 200, zoom: 1 }, 0, 2);
    expect([world.west_deg, world.east_deg]).toEqual([-180, 180]);
  });

  it("holds an estimate only for the area it was made for", () => {
    const a = areaOf({ south: -35.4, west: 149.1, north: -35.3, east: 149.2, zoom: 16 }, 14, 17);
    expect(sameArea(a, { ...a })).toBe(true);
    expect(sameArea(a, { ...a, max_zoom: 18 })).toBe(false);
    expect(sameArea(a, null)).toBe(false);
  });

  it("offers zooms around the map's, within the source's download limit", () => {
    expect(defaultZooms(16, 16)).toEqual([14, 16]);
    expect(defaultZooms(12, 16)).toEqual([10, 14]);
    expect(defaultZooms(1, 16)).toEqual([0, 3]);
    expect(defaultZooms(15.5, 24)).toEqual([14, 18]);
  });
});

describe("small helpers of the maps", () => {
  it("parse a typed position", () => {
    expect(parseLatLon("-35.363, 149.165")).toEqual([-35.363, 149.165]);
    expect(parseLatLon("47.1 8.5")).toEqual([47.1, 8.5]);
    expect(parseLatLon("91, 0")).toBeNull();
    expect(parseLatLon("1, 2, 3")).toBeNull();
    expect(parseLatLon("north")).toBeNull();
  });

  it("grow a track only when the vehicle moved", () => {
    expect(movedEnough(undefined, 1, 1)).toBe(true);
    expect(movedEnough([-35, 149], -35, 149)).toBe(false);
    expect(movedEnough([-35, 149], -35.0001, 149)).toBe(true);
  });
});
