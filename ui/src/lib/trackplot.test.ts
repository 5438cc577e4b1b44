import { describe, expect, it } from "vitest";
import { plotScale, polylines } from "./trackplot";

describe("track plot", () => {
  it("scales to the box with y up", () => {
    const s = plotScale([0, 10], [0, 100]);
    expect(s).toEqual({ minX: 0, maxX: 10, minY: 0, maxY: 100 });
    expect(polylines([0, 10], [0, 100], { width: 200, height: 50 }, s!)).toEqual(["0.0,50.0 200.0,0.0"]);
  });

  it("breaks the line at missing values", () => {
    const xs = [0, 1, 2, 3, 4, 5];
    const ys = [1, 2, Number.NaN, 3, 4, 5];
    const s = plotScale(xs, ys)!;
    expect(polylines(xs, ys, { width: 100, height: 100 }, s)).toHaveLength(2);
  });

  it("draws a flat line and refuses nothing", () => {
    const s = plotScale([0, 1], [30, 30])!;
    expect(s.maxY - s.minY).toBe(1);
    expect(plotScale([], [])).toBeNull();
    expect(plotScale([Number.NaN], [1])).toBeNull();
  });
});
