import { describe, expect, it } from "vitest";
import {
  addFenceVertex,
  addWaypoint,
  CMD,
  emptyPlan,
  fenceCircles,
  fencePolygons,
  flightPath,
  fraction,
  isPositioned,
  moveItem,
  newItem,
  newRallyPoint,
  planProblem,
  removeFenceItem,
  removeItem,
  reorder,
  setCommand,
  setParam,
  withHome,
} from "./mission";

const five = () => {
  let items = emptyPlan().mission;
  for (let i = 0; i < 5; i++) items = addWaypoint(items, -35.36 + i * 0.001, 149.16, 30 + i);
  return items;
};

describe("mission list editing", () => {
  it("adds waypoints at the default altitude, relative to home", () => {
    const items = five();
    expect(items).toHaveLength(5);
    expect(items[2]).toMatchObject({ command: CMD.WAYPOINT, frame: 3, lat_deg: -35.358, alt_m: 32, autocontinue: true });
  });

  it("moves one item and leaves the others alone", () => {
    const items = five();
    const moved = moveItem(items, 1, 1, 2);
    expect(moved[1]).toMatchObject({ lat_deg: 1, lon_deg: 2, alt_m: 31 });
    expect(moved[0]).toBe(items[0]);
    expect(items[1]?.lat_deg).toBeCloseTo(-35.359);
  });

  it("reorders up and down, and not past either end", () => {
    const items = five();
    const up = reorder(items, 2, -1);
    expect(up.map((i) => i.alt_m)).toEqual([30, 32, 31, 33, 34]);
    const down = reorder(items, 2, 1);
    expect(down.map((i) => i.alt_m)).toEqual([30, 31, 33, 32, 34]);
    expect(reorder(items, 0, -1)).toBe(items);
    expect(reorder(items, 4, 1)).toBe(items);
  });

  it("deletes by index", () => {
    expect(removeItem(five(), 0).map((i) => i.alt_m)).toEqual([31, 32, 33, 34]);
  });

  it("changing the command takes the new command's parameter defaults, keeps the position", () => {
    const wp = { ...newItem(CMD.WAYPOINT, 1, 2, 40), param1: 7 };
    const loiter = setCommand(wp, CMD.LOITER_TIME);
    expect(loiter).toMatchObject({ command: CMD.LOITER_TIME, param1: 10, lat_deg: 1, lon_deg: 2, alt_m: 40 });
    const rtl = setCommand(wp, CMD.RETURN_TO_LAUNCH);
    expect(isPositioned(rtl)).toBe(false);
    expect(setCommand(wp, CMD.WAYPOINT)).toBe(wp);
  });

  it("sets a parameter, null meaning unset", () => {
    const wp = newItem(CMD.WAYPOINT, 1, 2, 40);
    expect(setParam(wp, 1, 5).param1).toBe(5);
    expect(setParam(wp, 4, null).param4).toBeNull();
  });

  it("draws the path from home through positioned items only", () => {
    const plan = { ...emptyPlan(), home: { lat_deg: 9, lon_deg: 9, alt_msl_m: 0 }, mission: [...five().slice(0, 2), newItem(CMD.RETURN_TO_LAUNCH, 0, 0, 0)] };
    expect(flightPath(plan)).toHaveLength(3);
    expect(flightPath(plan)[0]).toEqual([9, 9]);
  });
});

describe("geofence polygons", () => {
  it("adding vertices grows one inclusion polygon and keeps every vertex's count right", () => {
    let fence = addFenceVertex([], 1, 1);
    fence = addFenceVertex(fence, 1, 2);
    fence = addFenceVertex(fence, 2, 2);
    expect(fence.map((f) => f.param1)).toEqual([3, 3, 3]);
    expect(fence.every((f) => f.command === CMD.FENCE_POLYGON_INCLUSION && f.frame === 0)).toBe(true);
    const polys = fencePolygons(fence);
    expect(polys).toHaveLength(1);
    expect(polys[0]?.vertices).toEqual([
      [1, 1],
      [1, 2],
      [2, 2],
    ]);
  });

  it("splits consecutive polygons by their counts and skips other fence items", () => {
    const a = addFenceVertex(addFenceVertex(addFenceVertex([], 0, 0), 0, 1), 1, 1);
    const b = a.map((f) => ({ ...f }));
    const circle = { ...newRallyPoint(5, 5, 0), command: CMD.FENCE_CIRCLE_INCLUSION };
    const polys = fencePolygons([...a, circle, ...b]);
    expect(polys.map((p) => p.start)).toEqual([0, 4]);
    // A new vertex goes to the last inclusion polygon, after its last vertex.
    const grown = addFenceVertex([...a, circle, ...b], 2, 2);
    expect(fencePolygons(grown).map((p) => p.vertices.length)).toEqual([3, 4]);
    expect(grown[3]).toBe(circle);
  });

  it("finds circles with their radius and kind, skipping one without a radius", () => {
    const circle = (command: number, radiusM: number | null) => ({ ...newRallyPoint(-35, 149, 0), command, param1: radiusM });
    const poly = addFenceVertex(addFenceVertex(addFenceVertex([], 0, 0), 0, 1), 1, 1);
    const fence = [...poly, circle(CMD.FENCE_CIRCLE_INCLUSION, 300), circle(CMD.FENCE_CIRCLE_EXCLUSION, 0), circle(CMD.FENCE_CIRCLE_EXCLUSION, 50)];
    expect(fenceCircles(fence)).toEqual([
      { inclusion: true, center: [-35, 149], radiusM: 300 },
      { inclusion: false, center: [-35, 149], radiusM: 50 },
    ]);
    expect(fenceCircles([circle(CMD.FENCE_CIRCLE_INCLUSION, null)])).toEqual([]);
  });

  it("removing a vertex lowers the count of the rest", () => {
    const fence = addFenceVertex(addFenceVertex(addFenceVertex(addFenceVertex([], 0, 0), 0, 1), 1, 1), 1, 0);
    const less = removeFenceItem(fence, 1);
    expect(less.map((f) => f.param1)).toEqual([3, 3, 3]);
    expect(fencePolygons(less)[0]?.vertices).toHaveLength(3);
  });

  it("a polygon of fewer than 3 vertices cannot be uploaded", () => {
    const plan = { ...emptyPlan(), fence: addFenceVertex(addFenceVertex([], 0, 0), 0, 1) };
    expect(planProblem(plan)).toMatch(/at least 3/);
    expect(planProblem({ ...plan, fence: addFenceVertex(plan.fence, 1, 1) })).toBeNull();
  });
});

describe("upload preparation", () => {
  it("takes the vehicle's home only when the plan has none", () => {
    const vehicleHome = { lat_deg: 1, lon_deg: 2, alt_msl_m: 3 };
    expect(withHome(emptyPlan(), vehicleHome).home).toEqual(vehicleHome);
    const own = { ...emptyPlan(), home: { lat_deg: 5, lon_deg: 6, alt_msl_m: 7 } };
    expect(withHome(own, vehicleHome)).toBe(own);
    expect(withHome(emptyPlan(), null).home).toBeNull();
  });

  it("refuses items off the Earth or without an altitude", () => {
    expect(planProblem({ ...emptyPlan(), mission: [newItem(CMD.WAYPOINT, 95, 0, 10)] })).toMatch(/Item 1/);
    expect(planProblem({ ...emptyPlan(), mission: [newItem(CMD.WAYPOINT, 1, 1, Number.NaN)] })).toMatch(/altitude/);
  });

  it("progress is a fraction only once the total is known", () => {
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(5, null)).toBeNull();
    expect(fraction(12, 10)).toBe(1);
  });
});
