// The Plan view's editing rules, as pure functions over the PlanView DTO: adding, moving,
// reordering and deleting mission items, changing an item's command (with that command's
// parameter defaults), the geofence polygons and rally points. Nothing here touches the map
// or the backend, so every rule is unit-tested.
import type { GeoPointView } from "./bindings/GeoPointView";
import type { MissionItemView } from "./bindings/MissionItemView";
import type { PlanView } from "./bindings/PlanView";

/** MAV_CMD numbers the planner knows by name. */
export const CMD = {
  WAYPOINT: 16,
  LOITER_UNLIM: 17,
  LOITER_TURNS: 18,
  LOITER_TIME: 19,
  RETURN_TO_LAUNCH: 20,
  LAND: 21,
  TAKEOFF: 22,
  DO_CHANGE_SPEED: 178,
  FENCE_POLYGON_INCLUSION: 5001,
  FENCE_POLYGON_EXCLUSION: 5002,
  FENCE_CIRCLE_INCLUSION: 5003,
  FENCE_CIRCLE_EXCLUSION: 5004,
  RALLY_POINT: 5100,
} as const;

/** MAV_FRAME numbers. */
export const FRAME = { GLOBAL: 0, GLOBAL_RELATIVE_ALT: 3 } as const;

export interface CommandInfo {
  id: number;
  /** Short name as the pilot picks it. */
  name: string;
  /** Labels of param1…param4; null where the command leaves the parameter unused. */
  params: [string | null, string | null, string | null, string | null];
  /** Defaults of param1…param4 for a new item (null: unset, NaN on the wire). */
  defaults: [number | null, number | null, number | null, number | null];
  /** Whether the item has a place on the map. */
  positioned: boolean;
}

/** The mission commands the side list offers, in the order it offers them. */
export const MISSION_COMMANDS: CommandInfo[] = [
  {
    id: CMD.WAYPOINT,
    name: "WAYPOINT",
    params: ["Hold s", "Accept radius m", "Pass radius m", "Yaw °"],
    defaults: [0, 0, 0, null],
    positioned: true,
  },
  {
    id: CMD.TAKEOFF,
    name: "TAKEOFF",
    params: ["Pitch °", null, null, "Yaw °"],
    defaults: [0, 0, 0, null],
    positioned: true,
  },
  {
    id: CMD.LOITER_TIME,
    name: "LOITER_TIME",
    params: ["Time s", null, "Radius m", null],
    defaults: [10, 0, 0, 0],
    positioned: true,
  },
  {
    id: CMD.LOITER_TURNS,
    name: "LOITER_TURNS",
    params: ["Turns", null, "Radius m", null],
    defaults: [1, 0, 0, 0],
    positioned: true,
  },
  {
    id: CMD.LOITER_UNLIM,
    name: "LOITER_UNLIM",
    params: [null, null, "Radius m", "Yaw °"],
    defaults: [0, 0, 0, null],
    positioned: true,
  },
  {
    id: CMD.LAND,
    name: "LAND",
    params: [null, null, null, "Yaw °"],
    defaults: [0, 0, 0, null],
    positioned: true,
  },
  {
    id: CMD.RETURN_TO_LAUNCH,
    name: "RTL",
    params: [null, null, null, null],
    defaults: [0, 0, 0, 0],
    positioned: false,
  },
  {
    id: CMD.DO_CHANGE_SPEED,
    name: "CHANGE_SPEED",
    params: ["Speed type", "Speed m/s", "Throttle %", null],
    defaults: [1, 5, -1, 0],
    positioned: false,
  },
];

export function commandInfo(id: number): CommandInfo | undefined {
  return MISSION_COMMANDS.find((c) => c.id === id);
}

/** A name for any command, known or not. */
export function commandName(id: number): string {
  return commandInfo(id)?.name ?? `CMD ${id}`;
}

export function emptyPlan(): PlanView {
  return { home: null, mission: [], fence: [], rally: [] };
}

export function newItem(command: number, latDeg: number, lonDeg: number, altM: number): MissionItemView {
  const d = commandInfo(command)?.defaults ?? [0, 0, 0, 0];
  const positioned = commandInfo(command)?.positioned ?? true;
  return {
    command,
    frame: FRAME.GLOBAL_RELATIVE_ALT,
    autocontinue: true,
    param1: d[0],
    param2: d[1],
    param3: d[2],
    param4: d[3],
    lat_deg: positioned ? latDeg : 0,
    lon_deg: positioned ? lonDeg : 0,
    alt_m: altM,
  };
}

/** Whether an item is drawn on the map (it has a position, and one was given). */
export function isPositioned(item: MissionItemView): boolean {
  const info = commandInfo(item.command);
  if (info !== undefined && !info.positioned) return false;
  return !(item.lat_deg === 0 && item.lon_deg === 0);
}

export function addWaypoint(items: MissionItemView[], latDeg: number, lonDeg: number, altM: number): MissionItemView[] {
  return [...items, newItem(CMD.WAYPOINT, latDeg, lonDeg, altM)];
}

export function moveItem(items: MissionItemView[], index: number, latDeg: number, lonDeg: number): MissionItemView[] {
  return items.map((it, i) => (i === index ? { ...it, lat_deg: latDeg, lon_deg: lonDeg } : it));
}

export function removeItem<T>(items: T[], index: number): T[] {
  return items.filter((_, i) => i !== index);
}

/** Moves item `index` by `delta` places (−1 up, +1 down); unchanged at either end. */
export function reorder<T>(items: T[], index: number, delta: number): T[] {
  const to = index + delta;
  if (index < 0 || index >= items.length || to < 0 || to >= items.length) return items;
  const out = items.slice();
  const [moved] = out.splice(index, 1);
  out.splice(to, 0, moved as T);
  return out;
}

/**
 * Changes an item's command. The parameters take the new command's defaults (the old ones
 * mean something else); the position and altitude stay, except that a command without a
 * position drops it.
 */
export function setCommand(item: MissionItemView, command: number): MissionItemView {
  if (item.command === command) return item;
  const fresh = newItem(command, item.lat_deg, item.lon_deg, item.alt_m);
  return { ...fresh, autocontinue: item.autocontinue };
}

export type ParamIndex = 1 | 2 | 3 | 4;

export function setParam(item: MissionItemView, index: ParamIndex, value: number | null): MissionItemView {
  return { ...item, [`param${index}`]: value };
}

export function setAltitude(item: MissionItemView, altM: number): MissionItemView {
  return { ...item, alt_m: altM };
}

/** The flight path on the map: home first (when known), then every positioned item. */
export function flightPath(plan: PlanView): [number, number][] {
  const pts: [number, number][] = [];
  if (plan.home) pts.push([plan.home.lat_deg, plan.home.lon_deg]);
  for (const it of plan.mission) if (isPositioned(it)) pts.push([it.lat_deg, it.lon_deg]);
  return pts;
}

// ---------------------------------------------------------------------------------------------
// Geofence: MAVLink sends a polygon as consecutive vertex items, each carrying the vertex
// count in param1.

export interface FencePolygon {
  inclusion: boolean;
  /** Index of its first vertex in the fence list. */
  start: number;
  vertices: [number, number][];
}

function isPolygonVertex(command: number): boolean {
  return command === CMD.FENCE_POLYGON_INCLUSION || command === CMD.FENCE_POLYGON_EXCLUSION;
}

/** The polygons of a fence list (circles and the return point are not polygons). */
export function fencePolygons(fence: MissionItemView[]): FencePolygon[] {
  const out: FencePolygon[] = [];
  let i = 0;
  while (i < fence.length) {
    const it = fence[i] as MissionItemView;
    if (!isPolygonVertex(it.command)) {
      i++;
      continue;
    }
    const declared = Math.max(1, Math.round(it.param1 ?? 0));
    const poly: FencePolygon = { inclusion: it.command === CMD.FENCE_POLYGON_INCLUSION, start: i, vertices: [] };
    while (i < fence.length && poly.vertices.length < declared && (fence[i] as MissionItemView).command === it.command) {
      const v = fence[i] as MissionItemView;
      poly.vertices.push([v.lat_deg, v.lon_deg]);
      i++;
    }
    out.push(poly);
  }
  return out;
}

export interface FenceCircle {
  inclusion: boolean;
  center: [number, number];
  radiusM: number;
}

/** The circles of a fence list (param1 is the radius; one without a positive radius is skipped). */
export function fenceCircles(fence: MissionItemView[]): FenceCircle[] {
  const out: FenceCircle[] = [];
  for (const it of fence) {
    if (it.command !== CMD.FENCE_CIRCLE_INCLUSION && it.command !== CMD.FENCE_CIRCLE_EXCLUSION) continue;
    const radiusM = it.param1 ?? 0;
    if (!(radiusM > 0)) continue;
    out.push({ inclusion: it.command === CMD.FENCE_CIRCLE_INCLUSION, center: [it.lat_deg, it.lon_deg], radiusM });
  }
  return out;
}

function vertex(command: number, count: number, latDeg: number, lonDeg: number): MissionItemView {
  return {
    command,
    frame: FRAME.GLOBAL,
    autocontinue: false,
    param1: count,
    param2: 0,
    param3: 0,
    param4: 0,
    lat_deg: latDeg,
    lon_deg: lonDeg,
    alt_m: 0,
  };
}

function withCount(fence: MissionItemView[], poly: FencePolygon, count: number, span: number): MissionItemView[] {
  return fence.map((it, i) => (i >= poly.start && i < poly.start + span ? { ...it, param1: count } : it));
}

/** Adds a vertex to the last inclusion polygon, or starts one. */
export function addFenceVertex(fence: MissionItemView[], latDeg: number, lonDeg: number): MissionItemView[] {
  const polys = fencePolygons(fence).filter((p) => p.inclusion);
  const last = polys[polys.length - 1];
  if (last === undefined) return [...fence, vertex(CMD.FENCE_POLYGON_INCLUSION, 1, latDeg, lonDeg)];
  const n = last.vertices.length + 1;
  const end = last.start + last.vertices.length;
  const updated = withCount(fence, last, n, last.vertices.length);
  return [...updated.slice(0, end), vertex(CMD.FENCE_POLYGON_INCLUSION, n, latDeg, lonDeg), ...updated.slice(end)];
}

/** Removes fence item `index`, keeping its polygon's vertex count right. */
export function removeFenceItem(fence: MissionItemView[], index: number): MissionItemView[] {
  const poly = fencePolygons(fence).find((p) => index >= p.start && index < p.start + p.vertices.length);
  const without = removeItem(fence, index);
  if (poly === undefined) return without;
  const n = poly.vertices.length - 1;
  return withCount(without, poly, n, n);
}

export function newRallyPoint(latDeg: number, lonDeg: number, altM: number): MissionItemView {
  return {
    command: CMD.RALLY_POINT,
    frame: FRAME.GLOBAL_RELATIVE_ALT,
    autocontinue: false,
    param1: 0,
    param2: 0,
    param3: 0,
    param4: 0,
    lat_deg: latDeg,
    lon_deg: lonDeg,
    alt_m: altM,
  };
}

/** A plan ready to upload: the home the vehicle reports when the plan has none. */
export function withHome(plan: PlanView, vehicleHome: GeoPointView | null): PlanView {
  return plan.home !== null || vehicleHome === null ? plan : { ...plan, home: vehicleHome };
}

/** Why the plan cannot be uploaded, or null. */
export function planProblem(plan: PlanView): string | null {
  for (const [i, it] of plan.mission.entries()) {
    if (!Number.isFinite(it.alt_m)) return `Item ${i + 1}: the altitude is not a number.`;
    if (isPositioned(it) && (Math.abs(it.lat_deg) > 90 || Math.abs(it.lon_deg) > 180))
      return `Item ${i + 1}: not a position on Earth.`;
  }
  for (const p of fencePolygons(plan.fence))
    if (p.vertices.length < 3) return `A geofence polygon needs at least 3 vertices (it has ${p.vertices.length}).`;
  return null;
}

/** A progress fraction 0–1 from a done/total pair, or null while the total is unknown. */
export function fraction(done: number, total: number | null): number | null {
  if (total === null || total <= 0) return null;
  return Math.min(1, Math.max(0, done / total));
}
