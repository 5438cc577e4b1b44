// The Parameters view's rules: what a typed-in value may be for a parameter's MAVLink type
// (integer types reject fractions and out-of-range values) and, for the common ArduCopter
// parameters listed here, its documented range; searching; and comparing against a file.
import type { ParamView } from "./bindings/ParamView";

/** Range of each MAV_PARAM_TYPE a vehicle sends (64-bit types travel as 32-bit floats). */
const TYPE_RANGE: Record<string, { min: number; max: number; integer: boolean }> = {
  UINT8: { min: 0, max: 255, integer: true },
  INT8: { min: -128, max: 127, integer: true },
  UINT16: { min: 0, max: 65_535, integer: true },
  INT16: { min: -32_768, max: 32_767, integer: true },
  UINT32: { min: 0, max: 4_294_967_295, integer: true },
  INT32: { min: -2_147_483_648, max: 2_147_483_647, integer: true },
  REAL32: { min: -3.4028234663852886e38, max: 3.4028234663852886e38, integer: false },
};

export interface ParamInfo {
  units?: string;
  description: string;
  min?: number;
  max?: number;
}

/** What pilots most often look up, from ArduCopter's parameter documentation. */
export const KNOWN_PARAMS: Record<string, ParamInfo> = {
  ANGLE_MAX: { units: "cdeg", description: "Maximum lean angle in all flight modes", min: 1000, max: 8000 },
  ARMING_CHECK: { units: "bitmask", description: "Which pre-arm checks run (1 = all, 0 = none)" },
  BATT_CAPACITY: { units: "mAh", description: "Battery capacity", min: 0 },
  BATT_LOW_VOLT: { units: "V", description: "Battery voltage that triggers the low-battery failsafe", min: 0 },
  BATT_FS_LOW_ACT: { description: "Low-battery failsafe action (0 none, 1 land, 2 RTL, 3 SmartRTL…)", min: 0, max: 7 },
  DISARM_DELAY: { units: "s", description: "Disarm after this long landed with throttle low (0: never)", min: 0, max: 127 },
  FENCE_ENABLE: { description: "Geofence on (1) or off (0)", min: 0, max: 1 },
  FENCE_ACTION: { description: "What a fence breach does (0 report, 1 RTL or land, 2 land…)", min: 0, max: 7 },
  FENCE_ALT_MAX: { units: "m", description: "Fence maximum altitude", min: 10, max: 1000 },
  FENCE_RADIUS: { units: "m", description: "Circular fence radius around home", min: 30, max: 10000 },
  FS_THR_ENABLE: { description: "Radio (throttle) failsafe action", min: 0, max: 7 },
  FS_GCS_ENABLE: { description: "Ground-station failsafe action", min: 0, max: 7 },
  LAND_SPEED: { units: "cm/s", description: "Descent speed for the final stage of landing", min: 30, max: 200 },
  PILOT_SPEED_UP: { units: "cm/s", description: "Maximum pilot-commanded climb rate", min: 50, max: 500 },
  RTL_ALT: { units: "cm", description: "Altitude the vehicle climbs to before returning (0: current)", min: 0, max: 300000 },
  RTL_ALT_FINAL: { units: "cm", description: "Altitude of the final RTL stage (0: land)", min: 0, max: 1000 },
  RTL_LOIT_TIME: { units: "ms", description: "Time to loiter above home before descending", min: 0, max: 60000 },
  RTL_SPEED: { units: "cm/s", description: "Horizontal speed of the return (0: WPNAV_SPEED)", min: 0, max: 2000 },
  SYSID_THISMAV: { description: "MAVLink system id of this vehicle", min: 1, max: 255 },
  SYSID_MYGCS: { description: "MAVLink system id of the ground station in control", min: 1, max: 255 },
  WPNAV_ACCEL: { units: "cm/s/s", description: "Horizontal acceleration in AUTO and GUIDED", min: 50, max: 500 },
  WPNAV_RADIUS: { units: "cm", description: "Distance at which a waypoint counts as reached", min: 5, max: 1000 },
  WPNAV_SPEED: { units: "cm/s", description: "Horizontal speed in AUTO and GUIDED", min: 20, max: 2000 },
  WPNAV_SPEED_UP: { units: "cm/s", description: "Climb speed in AUTO and GUIDED", min: 10, max: 1000 },
  WPNAV_SPEED_DN: { units: "cm/s", description: "Descent speed in AUTO and GUIDED", min: 10, max: 500 },
  WP_YAW_BEHAVIOR: { description: "Yaw in missions (0 none, 1 to next waypoint, 2 except RTL, 3 along track)", min: 0, max: 3 },
};

export function paramInfo(name: string): ParamInfo | undefined {
  return KNOWN_PARAMS[name];
}

export type Parsed = { ok: true; value: number } | { ok: false; error: string };

/** Checks a typed-in value against the parameter's type and, when known, its range. */
export function parseParamValue(text: string, paramType: string, name?: string): Parsed {
  const t = text.trim();
  if (t === "") return { ok: false, error: "Enter a value." };
  // Number("") is 0 and Number(" 0x10 ") is 16: accept only plain decimal notation.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return { ok: false, error: `"${t}" is not a number.` };
  const value = Number(t);
  if (!Number.isFinite(value)) return { ok: false, error: `"${t}" is not a number.` };
  const range = TYPE_RANGE[paramType];
  if (range === undefined) return { ok: false, error: `${paramType} parameters cannot be set here.` };
  if (range.integer && !Number.isInteger(value))
    return { ok: false, error: `${paramType} holds whole numbers only.` };
  if (value < range.min || value > range.max)
    return { ok: false, error: `${paramType} holds ${range.min} … ${range.max}.` };
  const info = name === undefined ? undefined : paramInfo(name);
  if (info?.min !== undefined && value < info.min) return { ok: false, error: `At least ${info.min}${unit(info)}.` };
  if (info?.max !== undefined && value > info.max) return { ok: false, error: `At most ${info.max}${unit(info)}.` };
  return { ok: true, value };
}

function unit(info: ParamInfo): string {
  return info.units === undefined || info.units === "bitmask" ? "" : ` ${info.units}`;
}

/** Whether two values are the same once stored as the parameter's type (REAL32 is a float). */
export function sameValue(a: number, b: number, paramType: string): boolean {
  return paramType === "REAL32" ? Math.fround(a) === Math.fround(b) : a === b;
}

/** A value as the table shows it: REAL32 at float precision, without float noise. */
export function formatValue(value: number, paramType: string): string {
  if (paramType !== "REAL32") return String(value);
  // 7 significant digits is what a 32-bit float holds.
  return String(Number(Math.fround(value).toPrecision(7)));
}

/** Parameters whose name (or known description) contains every word of `query`. */
export function filterParams(params: ParamView[], query: string): ParamView[] {
  const words = query.trim().toUpperCase().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return params;
  return params.filter((p) => {
    const hay = `${p.name} ${paramInfo(p.name)?.description ?? ""}`.toUpperCase();
    return words.every((w) => hay.includes(w));
  });
}

export interface ParamDiff {
  changed: { name: string; vehicle: number; file: number; paramType: string }[];
  onlyVehicle: string[];
  onlyFile: string[];
}

/** What differs between the vehicle's parameters and a file's, sorted by name. */
export function diffParams(vehicle: ParamView[], file: ParamView[]): ParamDiff {
  const onVehicle = new Map(vehicle.map((p) => [p.name, p]));
  const inFile = new Map(file.map((p) => [p.name, p]));
  const changed: ParamDiff["changed"] = [];
  const onlyFile: string[] = [];
  for (const f of file) {
    const v = onVehicle.get(f.name);
    if (v === undefined) onlyFile.push(f.name);
    else if (!sameValue(v.value, f.value, v.param_type))
      changed.push({ name: f.name, vehicle: v.value, file: f.value, paramType: v.param_type });
  }
  const onlyVehicle = vehicle.filter((p) => !inFile.has(p.name)).map((p) => p.name);
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  changed.sort((a, b) => byName(a.name, b.name));
  return { changed, onlyVehicle: onlyVehicle.sort(byName), onlyFile: onlyFile.sort(byName) };
}

/** Pending edits as the vehicle would take them: valid, and different from its value. */
export function pendingWrites(
  params: ParamView[],
  edits: Record<string, string>,
): { name: string; value: number }[] {
  const out: { name: string; value: number }[] = [];
  for (const p of params) {
    const text = edits[p.name];
    if (text === undefined) continue;
    const parsed = parseParamValue(text, p.param_type, p.name);
    if (parsed.ok && !sameValue(parsed.value, p.value, p.param_type)) out.push({ name: p.name, value: parsed.value });
  }
  return out;
}
