import { describe, expect, it } from "vitest";
import { distanceM, graticuleStep, gridValues, pathLengthM } from "./graticule";
import { firmwareName, hasPositionFix, vehicleLabel } from "./vehicle";

describe("graticule", () => {
  it("picks a round step giving at least six lines", () => {
    expect(graticuleStep(0.01)).toBe(0.001);
    expect(graticuleStep(1)).toBe(0.1);
    expect(graticuleStep(100)).toBe(10);
    expect(graticuleStep(0)).toBe(30);
  });

  it("covers the range with multiples of the step", () => {
    expect(gridValues(0.05, 0.31, 0.1)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(gridValues(-1, 1, 0.0001, 50)).toHaveLength(50);
  });

  it("measures distances in metres", () => {
    expect(distanceM([0, 0], [0, 1])).toBeCloseTo(111_195, -2);
    expect(pathLengthM([[0, 0], [0, 1], [0, 2]])).toBeCloseTo(222_390, -2);
  });
});

describe("vehicle names", () => {
  it("names the firmware the way pilots do", () => {
    expect(firmwareName("ArduPilot", "Quadrotor")).toBe("ArduCopter");
    expect(firmwareName("ArduPilot", "Fixed wing")).toBe("ArduPlane");
    expect(firmwareName("PX4", "Quadrotor")).toBe("PX4 Quadrotor");
    expect(vehicleLabel({ key: { sysid: 1, compid: 1 }, autopilot: "ArduPilot", vehicle_type: "Quadrotor" })).toBe("vehicle 1 (ArduCopter)");
  });

  it("arms only on a 3D fix or better", () => {
    expect(hasPositionFix("3D")).toBe(true);
    expect(hasPositionFix("2D")).toBe(false);
    expect(hasPositionFix(null)).toBe(false);
  });
});
