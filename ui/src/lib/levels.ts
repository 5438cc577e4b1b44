// Colour levels for the at-a-glance indicators (link, battery, GPS). Pure functions so the
// thresholds are tested once and every component colours the same way.
import type { LinkState } from "./bindings/LinkState";

/** `good` green, `warn` amber, `bad` red, `none` grey (nothing known). */
export type Level = "good" | "warn" | "bad" | "none";

/** Link quality at or above this is green; QGC and Mission Planner warn below ~90 %. */
export const LINK_GOOD_PCT = 90;
/** Below this a link drops commands and parameter transfers stall: red. */
export const LINK_BAD_PCT = 70;

export function linkLevel(state: LinkState | null | undefined, qualityPct: number | null | undefined): Level {
  if (state === "lost") return "bad";
  if (state === "closed" || state == null) return "none";
  if (state === "connecting") return "warn";
  if (qualityPct == null || !Number.isFinite(qualityPct)) return "none";
  if (qualityPct >= LINK_GOOD_PCT) return "good";
  if (qualityPct >= LINK_BAD_PCT) return "warn";
  return "bad";
}

/** ArduPilot's default low / critical battery failsafes sit around these remaining percentages. */
export const BATTERY_WARN_PCT = 30;
export const BATTERY_BAD_PCT = 15;

export function batteryLevel(remainingPct: number | null | undefined): Level {
  if (remainingPct == null || !Number.isFinite(remainingPct)) return "none";
  if (remainingPct < BATTERY_BAD_PCT) return "bad";
  if (remainingPct < BATTERY_WARN_PCT) return "warn";
  return "good";
}

/** 3D and better navigate; 2D is degraded; no fix or no GPS is red. */
export function gpsLevel(fix: string | null | undefined): Level {
  if (!fix) return "none";
  const f = fix.toLowerCase();
  if (f === "2d") return "warn";
  if (f === "3d" || f.startsWith("dgps") || f.startsWith("rtk") || f.includes("3d")) return "good";
  return "bad";
}
