import { describe, expect, it } from "vitest";
import type { SeriesDelta } from "./bindings/SeriesDelta";
import { BACKWARD_RESET_S, breakWraps, SeriesRing, VehicleSeries } from "./series";

const att = (t_s: number[], roll: number[], pitch: number[] = roll.map(() => 0), yaw: number[] = roll.map(() => 0)): SeriesDelta => ({
  group: "attitude",
  columns: ["roll_deg", "pitch_deg", "yaw_deg"],
  t_s,
  values: [roll, pitch, yaw],
});

describe("SeriesRing", () => {
  it("appends deltas in order and reports first/last", () => {
    const r = new SeriesRing(["roll_deg", "pitch_deg", "yaw_deg"]);
    expect(r.length).toBe(0);
    expect(r.lastT).toBeNull();
    expect(r.append(att([100, 100.1], [1, 2]))).toBe(2);
    expect(r.append(att([100.2], [3]))).toBe(1);
    expect(r.length).toBe(3);
    expect(r.firstT).toBe(100);
    expect(r.lastT).toBe(100.2);
    expect(r.window(0)).toEqual([
      [100, 100.1, 100.2],
      [1, 2, 3],
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  it("matches columns by name, whatever order the delta uses", () => {
    const r = new SeriesRing(["alt_rel_m", "alt_msl_m"]);
    r.append({ group: "altitude", columns: ["alt_msl_m", "alt_rel_m"], t_s: [1], values: [[600], [16]] });
    expect(r.window(0)).toEqual([[1], [16], [600]]);
  });

  it("turns a column missing from the delta, NaN or a short array into gaps, never 0", () => {
    const r = new SeriesRing(["alt_rel_m", "alt_msl_m"]);
    r.append({ group: "altitude", columns: ["alt_rel_m"], t_s: [1, 2], values: [[5, Number.NaN]] });
    expect(r.window(0)).toEqual([
      [1, 2],
      [5, null],
      [null, null],
    ]);
  });

  it("drops duplicate and slightly reordered samples", () => {
    const r = new SeriesRing(["roll_deg"]);
    r.append(att([10, 11, 12], [1, 2, 3]));
    expect(r.append(att([12, 11.5, 13], [9, 9, 4]))).toBe(1);
    expect(r.window(0)[0]).toEqual([10, 11, 12, 13]);
    expect(r.window(0)[1]).toEqual([1, 2, 3, 4]);
  });

  it("starts over when time jumps back by more than the reset threshold", () => {
    const r = new SeriesRing(["roll_deg"]);
    r.append(att([1000, 1001], [1, 2]));
    r.append(att([1001 - BACKWARD_RESET_S - 1, 1001 - BACKWARD_RESET_S], [7, 8]));
    expect(r.window(0)).toEqual([[1001 - BACKWARD_RESET_S - 1, 1001 - BACKWARD_RESET_S], [7, 8]]);
  });

  it("skips non-finite times", () => {
    const r = new SeriesRing(["roll_deg"]);
    expect(r.append(att([Number.NaN, 5, Number.POSITIVE_INFINITY], [1, 2, 3]))).toBe(1);
    expect(r.window(0)).toEqual([[5], [2]]);
  });

  it("keeps only maxAgeS behind the newest sample", () => {
    const r = new SeriesRing(["roll_deg"], { maxAgeS: 120, maxPoints: 1_000_000 });
    for (let t = 0; t <= 300; t += 0.5) r.append(att([t], [t]));
    expect(r.firstT).toBe(180);
    expect(r.lastT).toBe(300);
    expect(r.length).toBe(241);
  });

  it("never holds more than maxPoints, even at a high rate", () => {
    const r = new SeriesRing(["roll_deg"], { maxAgeS: 1e9, maxPoints: 100 });
    for (let i = 0; i < 10_000; i++) r.append(att([i], [i]));
    expect(r.length).toBe(100);
    expect(r.firstT).toBe(9900);
    const w = r.window(0);
    expect(w[0].length).toBe(100);
    expect(w[1][0]).toBe(9900);
  });

  it("stays correct across compactions of its dead prefix", () => {
    const r = new SeriesRing(["roll_deg"], { maxAgeS: 10, maxPoints: 1_000_000 });
    for (let i = 0; i < 20_000; i++) {
      const t = i / 100;
      r.append(att([t], [i]));
      if (i % 997 === 0) {
        const w = r.window(t - 5);
        expect(w[0][0]).toBeGreaterThanOrEqual(t - 5);
        expect(w[0][w[0].length - 1]).toBe(t);
        expect(w[1][w[1].length - 1]).toBe(i);
      }
    }
    expect(r.length).toBe(1001);
  });

  it("returns the window from a time, and copies so callers cannot corrupt it", () => {
    const r = new SeriesRing(["roll_deg"]);
    r.append(att([1, 2, 3, 4, 5], [10, 20, 30, 40, 50]));
    const w = r.window(2.5);
    expect(w).toEqual([
      [3, 4, 5],
      [30, 40, 50],
    ]);
    w[0][0] = 999;
    expect(r.window(2.5)[0][0]).toBe(3);
    expect(r.window(99)).toEqual([[], []]);
  });

  it("bumps its version only when something changed", () => {
    const r = new SeriesRing(["roll_deg"]);
    const v0 = r.version;
    r.append(att([], []));
    expect(r.version).toBe(v0);
    r.append(att([1], [1]));
    expect(r.version).toBe(v0 + 1);
    r.append(att([1], [1]));
    expect(r.version).toBe(v0 + 1);
  });
});

describe("VehicleSeries", () => {
  it("keeps one ring per group with the charts' column order", () => {
    const s = new VehicleSeries();
    s.apply([
      { group: "altitude", columns: ["alt_msl_m", "alt_rel_m"], t_s: [1], values: [[600], [10]] },
      att([1], [5]),
      { group: "custom", columns: ["b", "a"], t_s: [1], values: [[2], [1]] },
    ]);
    expect(s.get("altitude")?.columns).toEqual(["alt_rel_m", "alt_msl_m"]);
    expect(s.get("altitude")?.window(0)).toEqual([[1], [10], [600]]);
    expect(s.get("attitude")?.length).toBe(1);
    expect(s.get("custom")?.columns).toEqual(["b", "a"]);
    expect(s.get("speed")).toBeUndefined();
  });
});

describe("breakWraps", () => {
  it("breaks the line where yaw wraps through ±180", () => {
    expect(breakWraps([170, 178, -179, -170, null, 10, 12])).toEqual([170, 178, null, -170, null, 10, 12]);
  });

  it("leaves continuous values alone", () => {
    expect(breakWraps([-10, 0, 10, 90, 180])).toEqual([-10, 0, 10, 90, 180]);
  });
});
