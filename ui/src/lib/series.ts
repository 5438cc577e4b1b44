// Client-side history of the plotted telemetry: one bounded ring per vehicle and plot group,
// fed by the deltas each TelemetryTick carries and read by the charts as a time window.
// The backend sends each sample once, so a lost history here is lost for good: the ring
// keeps more than the plotted window (120 s against 60 s) so a resize or a vehicle switch
// redraws a full chart.
import type { SeriesDelta } from "./bindings/SeriesDelta";

export interface RingLimits {
  /** Samples older than the newest minus this are dropped. */
  maxAgeS: number;
  /** Hard cap whatever the rate, so a 400 Hz stream cannot grow the heap without bound. */
  maxPoints: number;
}

export const DEFAULT_LIMITS: RingLimits = { maxAgeS: 120, maxPoints: 50_000 };

/**
 * A jump back in time larger than this means a new time base (a replay restarted, a
 * reconnected vehicle with another clock): start over rather than draw a zigzag.
 * Smaller steps back are duplicates or reordering and are dropped.
 */
export const BACKWARD_RESET_S = 5;

/** Columns the charts know, in the order they are drawn; other groups keep the backend's order. */
export const KNOWN_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  attitude: ["roll_deg", "pitch_deg", "yaw_deg"],
  altitude: ["alt_rel_m", "alt_msl_m"],
  speed: ["groundspeed_m_s", "airspeed_m_s", "climb_m_s"],
  battery: ["battery_v"],
};

/** `[t_s, col0, col1, …]`, the shape uPlot draws. */
export type Window = [number[], ...(number | null)[][]];

export class SeriesRing {
  readonly columns: readonly string[];
  private readonly limits: RingLimits;
  private t: number[] = [];
  private cols: (number | null)[][];
  /** Index of the oldest live sample; entries before it are dead until the next compaction. */
  private head = 0;
  /** Bumped on every change, so a renderer can skip identical frames. */
  version = 0;

  constructor(columns: readonly string[], limits: RingLimits = DEFAULT_LIMITS) {
    this.columns = [...columns];
    this.limits = limits;
    this.cols = this.columns.map(() => []);
  }

  get length(): number {
    return this.t.length - this.head;
  }

  get firstT(): number | null {
    return this.length > 0 ? this.t[this.head] : null;
  }

  get lastT(): number | null {
    return this.length > 0 ? this.t[this.t.length - 1] : null;
  }

  clear(): void {
    this.t = [];
    this.cols = this.columns.map(() => []);
    this.head = 0;
    this.version++;
  }

  /**
   * Appends the samples of one delta, matching columns by name (a column the delta lacks
   * becomes a gap). Returns how many samples were kept.
   */
  append(delta: SeriesDelta): number {
    const src = this.columns.map((name) => {
      const i = delta.columns.indexOf(name);
      return i < 0 ? undefined : delta.values[i];
    });
    let kept = 0;
    for (let i = 0; i < delta.t_s.length; i++) {
      const t = delta.t_s[i];
      if (typeof t !== "number" || !Number.isFinite(t)) continue;
      const last = this.lastT;
      if (last !== null && t <= last) {
        if (t < last - BACKWARD_RESET_S) this.clear();
        else continue;
      }
      this.t.push(t);
      for (let c = 0; c < this.cols.length; c++) {
        const v = src[c]?.[i];
        this.cols[c].push(typeof v === "number" && Number.isFinite(v) ? v : null);
      }
      kept++;
    }
    if (kept > 0) {
      this.trim();
      this.version++;
    }
    return kept;
  }

  /** Samples with `fromS <= t`, as fresh arrays (the caller may hand them to uPlot). */
  window(fromS: number): Window {
    const start = this.lowerBound(fromS);
    const out: Window = [this.t.slice(start)];
    for (const col of this.cols) out.push(col.slice(start));
    return out;
  }

  /** First live index whose t is >= `t_s`. */
  private lowerBound(tS: number): number {
    let lo = this.head;
    let hi = this.t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid] < tS) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private trim(): void {
    const last = this.lastT;
    if (last === null) return;
    this.head = Math.max(this.lowerBound(last - this.limits.maxAgeS), this.t.length - this.limits.maxPoints);
    // Shifting arrays on every append would be O(n) per sample; compact only once the
    // dead prefix outweighs the live part.
    if (this.head > 1024 && this.head * 2 > this.t.length) {
      this.t = this.t.slice(this.head);
      this.cols = this.cols.map((c) => c.slice(this.head));
      this.head = 0;
    }
  }
}

/** All plot groups of one vehicle. */
export class VehicleSeries {
  private readonly rings = new Map<string, SeriesRing>();
  private readonly limits: RingLimits;

  constructor(limits: RingLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  get(group: string): SeriesRing | undefined {
    return this.rings.get(group);
  }

  apply(deltas: readonly SeriesDelta[]): void {
    for (const d of deltas) {
      let ring = this.rings.get(d.group);
      if (ring === undefined) {
        ring = new SeriesRing(KNOWN_COLUMNS[d.group] ?? d.columns, this.limits);
        this.rings.set(d.group, ring);
      }
      ring.append(d);
    }
  }
}

/**
 * Breaks a line where an angle wraps (179° → −179°) by turning the sample after the jump
 * into a gap, so the chart does not draw a vertical stroke across the whole axis.
 */
export function breakWraps(values: readonly (number | null)[], jumpDeg = 180): (number | null)[] {
  const out = values.slice();
  let prev: number | null = null;
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (v === null) {
      prev = null;
      continue;
    }
    if (prev !== null && Math.abs(v - prev) > jumpDeg) out[i] = null;
    prev = v;
  }
  return out;
}
