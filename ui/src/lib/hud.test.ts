import { describe, expect, it } from "vitest";
import { angleDiff, clampPitch, headingTape, horizonTransform, ladderRungs, pitchOffsetPx, polar } from "./hud";

describe("pitch", () => {
  it("moves the horizon down when the nose goes up", () => {
    expect(pitchOffsetPx(10, 4)).toBe(40);
    expect(pitchOffsetPx(-5, 4)).toBe(-20);
    expect(pitchOffsetPx(0, 4)).toBe(0);
  });

  it("clamps to ±90", () => {
    expect(clampPitch(120)).toBe(90);
    expect(clampPitch(-95)).toBe(-90);
    expect(pitchOffsetPx(200, 2)).toBe(180);
  });
});

describe("horizon transform", () => {
  it("rotates the horizon against the bank, after shifting it for pitch", () => {
    expect(horizonTransform(30, 10, 4)).toBe("rotate(-30) translate(0 40)");
    expect(horizonTransform(-15.5, -2, 4)).toBe("rotate(15.5) translate(0 -8)");
  });

  it("never writes a negative zero", () => {
    expect(horizonTransform(0, 0, 4)).toBe("rotate(0) translate(0 0)");
  });

  // Applies the transform the way SVG does (rightmost first) to a point of the horizon.
  function apply(transform: string, x: number, y: number): { x: number; y: number } {
    const m = /^rotate\((-?[\d.]+)\) translate\(0 (-?[\d.]+)\)$/.exec(transform);
    if (m === null) throw new Error(`unexpected transform ${transform}`);
    const a = (Number(m[1]) * Math.PI) / 180;
    const ty = y + Number(m[2]);
    return { x: x * Math.cos(a) - ty * Math.sin(a), y: x * Math.sin(a) + ty * Math.cos(a) };
  }

  it("right bank raises the right side of the horizon on screen", () => {
    const right = apply(horizonTransform(30, 0, 4), 100, 0);
    const left = apply(horizonTransform(30, 0, 4), -100, 0);
    expect(right.y).toBeLessThan(-49);
    expect(left.y).toBeGreaterThan(49);
  });

  it("nose up moves the horizon centre down, at any bank", () => {
    expect(apply(horizonTransform(0, 10, 4), 0, 0).y).toBeCloseTo(40);
    const banked = apply(horizonTransform(45, 10, 4), 0, 0);
    expect(Math.hypot(banked.x, banked.y)).toBeCloseTo(40);
    expect(banked.y).toBeGreaterThan(0);
  });
});

describe("pitch ladder", () => {
  it("lists rungs around the current pitch every step, skipping the horizon", () => {
    const rungs = ladderRungs(0, 12, 5, 4);
    expect(rungs.map((r) => r.deg)).toEqual([-10, -5, 5, 10]);
    expect(rungs.find((r) => r.deg === 10)).toEqual({ deg: 10, y: -40, major: true });
    expect(rungs.find((r) => r.deg === -5)).toEqual({ deg: -5, y: 20, major: false });
  });

  it("follows the pitch and stops at ±90", () => {
    expect(ladderRungs(85, 12, 5, 4).map((r) => r.deg)).toEqual([75, 80, 85, 90]);
    expect(ladderRungs(-33, 5, 5, 4).map((r) => r.deg)).toEqual([-35, -30]);
  });
});

describe("heading tape", () => {
  it("takes the short way round", () => {
    expect(angleDiff(350, 10)).toBe(20);
    expect(angleDiff(10, 350)).toBe(-20);
    expect(angleDiff(0, 180)).toBe(180);
  });

  it("centres on the heading and wraps through north", () => {
    const ticks = headingTape(355, 20, 5, 3);
    expect(ticks.map((t) => t.deg)).toEqual([335, 340, 345, 350, 355, 0, 5, 10, 15]);
    const north = ticks.find((t) => t.deg === 0);
    expect(north).toEqual({ deg: 0, x: 15, label: "N" });
    expect(ticks.find((t) => t.deg === 345)?.label).toBe("345");
    expect(ticks.find((t) => t.deg === 340)?.label).toBeNull();
  });

  it("labels cardinal and intercardinal points", () => {
    const labels = headingTape(90, 50, 5, 3)
      .filter((t) => t.label !== null)
      .map((t) => t.label);
    expect(labels).toEqual(["NE", "60", "75", "E", "105", "120", "SE"]);
  });

  it("puts the tick under the heading at x = 0", () => {
    const t = headingTape(123, 30, 1, 3).find((x) => x.deg === 123);
    expect(t?.x).toBe(0);
  });
});

describe("roll scale", () => {
  it("places points clockwise from straight up", () => {
    expect(polar(100, 0)).toEqual({ x: 0, y: -100 });
    expect(polar(100, 90)).toEqual({ x: 100, y: 0 });
    expect(polar(100, -30)).toEqual({ x: -50, y: -86.603 });
  });
});
