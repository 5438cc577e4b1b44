import { describe, expect, it } from "vitest";
import { paddedRange, symmetricRange, yawRange } from "./chartmath";

describe("chart ranges", () => {
  it("pads the data by 10 %", () => {
    expect(paddedRange(0, 100, 4)).toEqual([-10, 110]);
  });

  it("keeps a minimum span around a steady value", () => {
    expect(paddedRange(30, 30.2, 4)).toEqual([28.1, 32.1]);
  });

  it("has a sane default with no data", () => {
    expect(paddedRange(null, null, 4)).toEqual([-2, 2]);
  });

  it("keeps roll and pitch centred on level", () => {
    expect(symmetricRange(-3, 5, 10)).toEqual([-10, 10]);
    const [lo, hi] = symmetricRange(-40, 12, 10);
    expect(lo).toBeCloseTo(-44);
    expect(hi).toBeCloseTo(44);
  });

  it("picks the yaw convention from the data", () => {
    expect(yawRange(170)).toEqual([-180, 180]);
    expect(yawRange(270)).toEqual([0, 360]);
    expect(yawRange(null)).toEqual([-180, 180]);
  });
});
