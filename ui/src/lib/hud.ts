// Geometry of the attitude indicator, kept apart from the SVG so the sign conventions
// (the ones that get an artificial horizon backwards) are unit-tested.
//
// Conventions: MAVLink roll is positive right wing down, pitch positive nose up. SVG y grows
// downwards and positive rotation is clockwise. Banking right must tilt the horizon
// counter-clockwise; pitching up must move the horizon down.
import { wrap360 } from "./format";

/** Pitch is physically limited to ±90°; anything beyond is a bad sample, not a loop. */
export function clampPitch(pitchDeg: number): number {
  return Math.max(-90, Math.min(90, pitchDeg));
}

/** How far the horizon moves down (SVG +y) for a given pitch. */
export function pitchOffsetPx(pitchDeg: number, pxPerDeg: number): number {
  return clampPitch(pitchDeg) * pxPerDeg;
}

/**
 * SVG transform of the horizon group drawn around the origin: shift along the aircraft's
 * vertical axis first, then rotate (SVG applies the rightmost transform first).
 */
export function horizonTransform(rollDeg: number, pitchDeg: number, pxPerDeg: number): string {
  const r = -rollDeg;
  const y = pitchOffsetPx(pitchDeg, pxPerDeg);
  return `rotate(${round3(r)}) translate(0 ${round3(y)})`;
}

export interface Rung {
  deg: number;
  /** Offset from the horizon line in the horizon's frame (above = negative). */
  y: number;
  /** Labelled rung (every 10°). */
  major: boolean;
}

/** Pitch ladder rungs within `halfSpanDeg` of the current pitch, horizon (0°) excluded. */
export function ladderRungs(pitchDeg: number, halfSpanDeg: number, stepDeg: number, pxPerDeg: number): Rung[] {
  const p = clampPitch(pitchDeg);
  const lo = Math.max(-90, Math.ceil((p - halfSpanDeg) / stepDeg) * stepDeg);
  const hi = Math.min(90, Math.floor((p + halfSpanDeg) / stepDeg) * stepDeg);
  const out: Rung[] = [];
  for (let d = lo; d <= hi; d += stepDeg) {
    if (d === 0) continue;
    out.push({ deg: d, y: -d * pxPerDeg, major: d % 10 === 0 });
  }
  return out;
}

/** Shortest signed angle from `fromDeg` to `toDeg`, in (-180, 180]. */
export function angleDiff(fromDeg: number, toDeg: number): number {
  const d = wrap360(toDeg - fromDeg);
  return d > 180 ? d - 360 : d;
}

const CARDINALS: Record<number, string> = {
  0: "N",
  45: "NE",
  90: "E",
  135: "SE",
  180: "S",
  225: "SW",
  270: "W",
  315: "NW",
};

export interface TapeTick {
  /** Heading of this tick, 0–359. */
  deg: number;
  /** Horizontal offset from the tape centre, px. */
  x: number;
  /** Text under a major tick: a cardinal point or the heading. */
  label: string | null;
}

/** Ticks of the heading tape centred on `headingDeg`, every `stepDeg`, labelled every 15°. */
export function headingTape(headingDeg: number, halfSpanDeg: number, stepDeg: number, pxPerDeg: number): TapeTick[] {
  const first = Math.ceil((headingDeg - halfSpanDeg) / stepDeg) * stepDeg;
  const out: TapeTick[] = [];
  for (let d = first; d <= headingDeg + halfSpanDeg; d += stepDeg) {
    const deg = Math.round(wrap360(d)) % 360;
    const label = deg % 15 === 0 ? (CARDINALS[deg] ?? String(deg)) : null;
    out.push({ deg, x: round3((d - headingDeg) * pxPerDeg), label });
  }
  return out;
}

/** Bank angles marked on the roll scale, as on most primary flight displays. */
export const ROLL_TICKS_DEG = [-60, -45, -30, -20, -10, 0, 10, 20, 30, 45, 60] as const;

/** A point on a circle of radius `r` at `deg` from straight up, clockwise. */
export function polar(r: number, deg: number): { x: number; y: number } {
  const a = (deg * Math.PI) / 180;
  return { x: round3(r * Math.sin(a)), y: round3(-r * Math.cos(a)) };
}

function round3(v: number): number {
  // Keeps SVG attributes short and tests exact; "-0" would read as a sign in snapshots.
  const r = Math.round(v * 1000) / 1000;
  return r === 0 ? 0 : r;
}
