import { describe, expect, it } from "vitest";
import { BasemapError, covers, isLand, loadBasemap, parseBasemap } from "./basemap";

describe("the bundled world basemap", () => {
  it("loads to land areas, coastlines and borders", async () => {
    const map = await loadBasemap();
    expect(map.land.length).toBeGreaterThan(0);
    expect(map.land.every((f) => f.type === "Feature")).toBe(true);
    expect(map.coastlines.type).toBe("MultiLineString");
    expect(map.coastlines.coordinates.length).toBeGreaterThan(100);
    expect(map.borders.type).toBe("MultiLineString");
    expect(map.borders.coordinates.length).toBeGreaterThan(100);
    // Every position is a [lon, lat] pair on the globe.
    const all = [...map.coastlines.coordinates, ...map.borders.coordinates].flat();
    expect(all.every(([lon, lat]) => Math.abs(lon as number) <= 180 && Math.abs(lat as number) <= 90)).toBe(true);
  });

  it("has land where there is land and sea where there is sea", async () => {
    const map = await loadBasemap();
    expect(isLand(map, -35.363261, 149.16523)).toBe(true); // Canberra (SITL's home)
    expect(isLand(map, 51.5, -0.12)).toBe(true); // London
    expect(isLand(map, -42.0, 146.5)).toBe(true); // Tasmania, an island
    expect(isLand(map, 0, 0)).toBe(false); // Gulf of Guinea
    expect(isLand(map, -40, -140)).toBe(false); // South Pacific
    expect(isLand(map, -36.0, 151.5)).toBe(false); // Tasman Sea, off Sydney
  });

  it("draws borders between countries only, never along a coast", async () => {
    const map = await loadBasemap();
    // Mainland Australia south of New Guinea shares no border with anyone, but has coasts.
    const inSouthernAustralia = ([lon, lat]: number[]) => (lon as number) > 112 && (lon as number) < 154 && (lat as number) < -11 && (lat as number) > -40;
    expect(map.borders.coordinates.flat().some(inSouthernAustralia)).toBe(false);
    expect(map.coastlines.coordinates.flat().some(inSouthernAustralia)).toBe(true);
    // France and Spain do share one (the Pyrenees, around 42.7°N 0.5°E).
    const nearPyrenees = ([lon, lat]: number[]) => Math.abs((lon as number) - 0.5) < 1 && Math.abs((lat as number) - 42.7) < 0.5;
    expect(map.borders.coordinates.flat().some(nearPyrenees)).toBe(true);
  });

  it("refuses what is not a world atlas, saying so", () => {
    expect(() => parseBasemap("{not json")).toThrow(BasemapError);
    expect(() => parseBasemap('{"type":"Topology","arcs":[],"objects":{}}')).toThrow(/not a TopoJSON world atlas/);
    expect(() => parseBasemap("null")).toThrow(BasemapError);
  });
});

describe("point in polygon", () => {
  // A 10° square with a 2° hole in the middle (a lake), as GeoJSON [lon, lat] rings.
  const square = [
    [0, 0],
    [10, 0],
    [10, 10],
    [0, 10],
    [0, 0],
  ];
  const hole = [
    [4, 4],
    [6, 4],
    [6, 6],
    [4, 6],
    [4, 4],
  ];

  it("counts the inside in, the outside and a hole out", () => {
    const poly = { type: "Polygon" as const, coordinates: [square, hole] };
    expect(covers(poly, 2, 2)).toBe(true);
    expect(covers(poly, 5, 5)).toBe(false);
    expect(covers(poly, 5, 11)).toBe(false);
    expect(covers(poly, -1, 5)).toBe(false);
  });

  it("covers a point in any part of a multipolygon", () => {
    const far = square.map(([lon, lat]) => [(lon as number) + 100, lat as number]);
    const multi = { type: "MultiPolygon" as const, coordinates: [[square], [far]] };
    expect(covers(multi, 5, 105)).toBe(true);
    expect(covers(multi, 5, 50)).toBe(false);
  });
});
