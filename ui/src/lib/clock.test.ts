import { describe, expect, it } from "vitest";
import { DisplayClock, GAIN, SNAP_S } from "./clock";
import { RateMeter } from "./rate";

describe("DisplayClock", () => {
  it("knows no time before the first sample", () => {
    expect(new DisplayClock().now(1000)).toBeNull();
  });

  it("advances with the local clock between observations", () => {
    const c = new DisplayClock();
    c.observe(1_700_000_000, 5_000);
    expect(c.now(5_000)).toBe(1_700_000_000);
    expect(c.now(5_016)).toBeCloseTo(1_700_000_000.016, 6);
    expect(c.now(6_000)).toBeCloseTo(1_700_000_001, 6);
  });

  it("absorbs arrival jitter gradually instead of jumping", () => {
    const c = new DisplayClock();
    c.observe(100, 0);
    // Samples for t=100.05 arrive 30 ms late.
    c.observe(100.05, 80);
    const expected = 100 + (100.05 - 0.08 - 100) * GAIN;
    expect(c.now(0)).toBeCloseTo(expected, 9);
  });

  it("snaps to a new time base", () => {
    const c = new DisplayClock();
    c.observe(100, 0);
    c.observe(100 + SNAP_S + 5, 0);
    expect(c.now(0)).toBe(100 + SNAP_S + 5);
  });

  it("tracks a steady stream to within its jitter", () => {
    const c = new DisplayClock();
    // 20 Hz ticks with 0–20 ms of arrival jitter: data time t, local arrival t + 5 s + jitter.
    for (let i = 0; i < 400; i++) {
      const t = 1000 + i * 0.05;
      const jitterMs = (i * 7) % 21;
      c.observe(t, (t - 995) * 1000 + jitterMs);
    }
    const lastLocalMs = (1000 + 399 * 0.05 - 995) * 1000;
    const now = c.now(lastLocalMs);
    expect(now).not.toBeNull();
    expect(Math.abs((now as number) - (1000 + 399 * 0.05))).toBeLessThan(0.021);
  });

  it("ignores non-finite input and can be reset", () => {
    const c = new DisplayClock();
    c.observe(Number.NaN, 0);
    expect(c.now(0)).toBeNull();
    c.observe(5, 0);
    c.reset();
    expect(c.now(0)).toBeNull();
  });
});

describe("RateMeter", () => {
  it("needs half a second of history", () => {
    const m = new RateMeter();
    m.push(0, 0);
    m.push(400, 40);
    expect(m.perSecond()).toBeNull();
    m.push(500, 50);
    expect(m.perSecond()).toBe(100);
  });

  it("averages over its window", () => {
    const m = new RateMeter(2000);
    for (let t = 0; t <= 10_000; t += 50) m.push(t, t < 5000 ? t / 10 : 500 + (t - 5000) / 5);
    // After t=5000 the counter grows at 200/s; the 2 s window has only that.
    expect(m.perSecond()).toBeCloseTo(200, 6);
  });

  it("restarts when the counter goes down (a new link reused the id)", () => {
    const m = new RateMeter();
    m.push(0, 1000);
    m.push(1000, 2000);
    m.push(2000, 10);
    expect(m.perSecond()).toBeNull();
    m.push(3000, 110);
    expect(m.perSecond()).toBe(100);
  });
});
