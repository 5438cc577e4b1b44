import { describe, expect, it } from "vitest";
import { batteryLevel, gpsLevel, linkLevel } from "./levels";

describe("link quality colouring", () => {
  it("is red while lost, whatever the last quality was", () => {
    expect(linkLevel("lost", 100)).toBe("bad");
  });

  it("grades an open link by quality", () => {
    expect(linkLevel("up", 100)).toBe("good");
    expect(linkLevel("up", 90)).toBe("good");
    expect(linkLevel("up", 89.9)).toBe("warn");
    expect(linkLevel("up", 70)).toBe("warn");
    expect(linkLevel("up", 69.9)).toBe("bad");
    expect(linkLevel("up", 0)).toBe("bad");
  });

  it("is neutral when nothing is known", () => {
    expect(linkLevel("up", null)).toBe("none");
    expect(linkLevel("closed", 100)).toBe("none");
    expect(linkLevel(null, null)).toBe("none");
    expect(linkLevel("connecting", null)).toBe("warn");
  });
});

describe("battery colouring", () => {
  it("follows the failsafe thresholds", () => {
    expect(batteryLevel(100)).toBe("good");
    expect(batteryLevel(30)).toBe("good");
    expect(batteryLevel(29)).toBe("warn");
    expect(batteryLevel(15)).toBe("warn");
    expect(batteryLevel(14.9)).toBe("bad");
    expect(batteryLevel(null)).toBe("none");
  });
});

describe("GPS colouring", () => {
  it("grades fixes", () => {
    expect(gpsLevel("3D")).toBe("good");
    expect(gpsLevel("DGPS")).toBe("good");
    expect(gpsLevel("RTK fixed")).toBe("good");
    expect(gpsLevel("2D")).toBe("warn");
    expect(gpsLevel("No fix")).toBe("bad");
    expect(gpsLevel("No GPS")).toBe("bad");
    expect(gpsLevel(null)).toBe("none");
  });
});
