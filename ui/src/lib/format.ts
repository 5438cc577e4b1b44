// Turning telemetry values into the text a pilot reads: a missing value is always "—",
// never 0, and units live beside the number so tests and eyes read the same digits.

/** What every instrument shows for a value the vehicle has not reported. */
export const MISSING = "—";

type Maybe = number | null | undefined;

function present(v: Maybe): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** A number with a fixed count of decimals, or "—". Never prints "-0.0". */
export function fmtNum(v: Maybe, decimals: number): string {
  if (!present(v)) return MISSING;
  const s = v.toFixed(decimals);
  // -0.04 rounds to "-0.0", which reads as a sign flip on a steady value.
  return /^-0(\.0+)?$/.test(s) ? s.slice(1) : s;
}

/** "12.3 m" style text for places where the unit cannot sit in its own element. */
export function fmtUnit(v: Maybe, decimals: number, unit: string): string {
  const n = fmtNum(v, decimals);
  return n === MISSING ? MISSING : `${n} ${unit}`;
}

/** Degrees folded into [0, 360). */
export function wrap360(deg: number): number {
  const r = deg % 360;
  return r < 0 ? r + 360 : r;
}

/** Heading as a whole number of degrees 0–359 ("360" never shows). */
export function fmtHeading(deg: Maybe): string {
  if (!present(deg)) return MISSING;
  return String(Math.round(wrap360(deg)) % 360).padStart(3, "0");
}

/** Signed decimal degrees, 7 decimals (about 1 cm), as QGroundControl shows them. */
export function fmtLatLon(deg: Maybe, limitDeg: 90 | 180): string {
  if (!present(deg) || Math.abs(deg) > limitDeg) return MISSING;
  return fmtNum(deg, 7);
}

export const fmtLat = (deg: Maybe): string => fmtLatLon(deg, 90);
export const fmtLon = (deg: Maybe): string => fmtLatLon(deg, 180);

/** "12.4 V · 87%", "12.4 V", "87%", or "—". */
export function fmtBattery(voltageV: Maybe, remainingPct: Maybe): string {
  const parts: string[] = [];
  if (present(voltageV)) parts.push(`${fmtNum(voltageV, 1)} V`);
  if (present(remainingPct)) parts.push(`${Math.round(remainingPct)}%`);
  return parts.length === 0 ? MISSING : parts.join(" · ");
}

/** "3D · 12 sats", "No fix", or "—". */
export function fmtGps(fix: string | null | undefined, satellites: Maybe): string {
  const sats = present(satellites) ? `${satellites} sats` : null;
  if (!fix) return sats ?? MISSING;
  return sats === null ? fix : `${fix} · ${sats}`;
}

/** A counter as plain digits (tests parse it); "—" when absent. */
export function fmtCount(n: Maybe): string {
  if (!present(n)) return MISSING;
  return String(Math.max(0, Math.round(n)));
}

/** Local wall-clock time of a STATUSTEXT line, HH:MM:SS. */
export function fmtClock(timeMs: number): string {
  if (!Number.isFinite(timeMs)) return MISSING;
  const d = new Date(timeMs);
  const two = (x: number) => String(x).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const SEVERITY_NAMES = [
  "EMERGENCY",
  "ALERT",
  "CRITICAL",
  "ERROR",
  "WARNING",
  "NOTICE",
  "INFO",
  "DEBUG",
] as const;

/** MAV_SEVERITY name, or "SEV n" for a value outside 0–7. */
export function severityName(severity: number): string {
  return SEVERITY_NAMES[severity] ?? `SEV ${severity}`;
}

export type SeverityLevel = "critical" | "error" | "warning" | "notice" | "info" | "debug";

/** How loud a STATUSTEXT line should look: 0–2 critical, 3 error, 4 warning, 5 notice, 6 info, 7 debug. */
export function severityLevel(severity: number): SeverityLevel {
  if (severity <= 2) return "critical";
  if (severity === 3) return "error";
  if (severity === 4) return "warning";
  if (severity === 5) return "notice";
  if (severity === 6) return "info";
  return "debug";
}

/** The armed badge text: ARMED, DISARMED, or "—" before the first heartbeat. */
export function fmtArmed(armed: boolean | null | undefined): string {
  if (armed === true) return "ARMED";
  if (armed === false) return "DISARMED";
  return MISSING;
}

/** Messages per second, whole numbers above 10 and one decimal below. */
export function fmtRate(perS: Maybe): string {
  if (!present(perS)) return MISSING;
  return perS >= 10 ? String(Math.round(perS)) : fmtNum(perS, 1);
}
