import { describe, expect, it } from "vitest";
import {
  fmtArmed,
  fmtBattery,
  fmtClock,
  fmtCount,
  fmtGps,
  fmtHeading,
  fmtLat,
  fmtLon,
  fmtNum,
  fmtRate,
  fmtUnit,
  MISSING,
  severityLevel,
  severityName,
  wrap360,
} from "./format";

describe("missing values", () => {
  it.each([null, undefined, Number.NaN, Number.POSITIVE_INFINITY])("%s shows as an em dash, never 0", (v) => {
    expect(fmtNum(v, 1)).toBe(MISSING);
    expect(fmtUnit(v, 1, "m")).toBe(MISSING);
    expect(fmtHeading(v)).toBe(MISSING);
    expect(fmtLat(v)).toBe(MISSING);
    expect(fmtLon(v)).toBe(MISSING);
    expect(fmtCount(v)).toBe(MISSING);
    expect(fmtRate(v)).toBe(MISSING);
  });

  it("a real zero is still 0", () => {
    expect(fmtNum(0, 1)).toBe("0.0");
    expect(fmtLat(0)).toBe("0.0000000");
    expect(fmtCount(0)).toBe("0");
  });
});

describe("numbers", () => {
  it("rounds to the asked decimals", () => {
    expect(fmtNum(12.345, 1)).toBe("12.3");
    expect(fmtNum(-3.96, 1)).toBe("-4.0");
    expect(fmtNum(7, 2)).toBe("7.00");
  });

  it("never shows a negative zero", () => {
    expect(fmtNum(-0.04, 1)).toBe("0.0");
    expect(fmtNum(-0, 0)).toBe("0");
    expect(fmtNum(-0.4, 0)).toBe("0");
  });

  it("puts units after the number", () => {
    expect(fmtUnit(30.25, 1, "m")).toBe("30.3 m");
  });

  it("prints counters as plain digits for tests to parse", () => {
    expect(fmtCount(123456)).toBe("123456");
    expect(fmtCount(-2)).toBe("0");
  });

  it("gives rates one decimal below 10 and whole numbers above", () => {
    expect(fmtRate(4.25)).toBe("4.3");
    expect(fmtRate(143.6)).toBe("144");
  });
});

describe("angles and positions", () => {
  it("folds headings into 000–359", () => {
    expect(wrap360(-90)).toBe(270);
    expect(wrap360(720)).toBe(0);
    expect(fmtHeading(0)).toBe("000");
    expect(fmtHeading(-1)).toBe("359");
    expect(fmtHeading(359.6)).toBe("000");
    expect(fmtHeading(90.4)).toBe("090");
  });

  it("prints lat/lon as signed decimal degrees with 7 decimals", () => {
    expect(fmtLat(-35.363262)).toBe("-35.3632620");
    expect(fmtLon(149.1652299)).toBe("149.1652299");
  });

  it("rejects coordinates out of range", () => {
    expect(fmtLat(91)).toBe(MISSING);
    expect(fmtLon(-180.5)).toBe(MISSING);
    expect(fmtLon(120)).toBe("120.0000000");
  });
});

describe("status values", () => {
  it("battery shows voltage and percentage when known", () => {
    expect(fmtBattery(12.44, 87.4)).toBe("12.4 V · 87%");
    expect(fmtBattery(12.44, null)).toBe("12.4 V");
    expect(fmtBattery(null, 50)).toBe("50%");
    expect(fmtBattery(null, null)).toBe(MISSING);
  });

  it("GPS shows fix and satellites", () => {
    expect(fmtGps("3D", 12)).toBe("3D · 12 sats");
    expect(fmtGps("No fix", null)).toBe("No fix");
    expect(fmtGps(null, 4)).toBe("4 sats");
    expect(fmtGps(null, null)).toBe(MISSING);
  });

  it("armed state has three values", () => {
    expect(fmtArmed(true)).toBe("ARMED");
    expect(fmtArmed(false)).toBe("DISARMED");
    expect(fmtArmed(null)).toBe(MISSING);
  });

  it("clock is local HH:MM:SS", () => {
    const t = new Date(2024, 4, 6, 7, 8, 9).getTime();
    expect(fmtClock(t)).toBe("07:08:09");
    expect(fmtClock(Number.NaN)).toBe(MISSING);
  });
});

describe("STATUSTEXT severities", () => {
  it("names MAV_SEVERITY values", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(severityName)).toEqual([
      "EMERGENCY",
      "ALERT",
      "CRITICAL",
      "ERROR",
      "WARNING",
      "NOTICE",
      "INFO",
      "DEBUG",
    ]);
    expect(severityName(9)).toBe("SEV 9");
  });

  it("maps them to display levels", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(severityLevel)).toEqual([
      "critical",
      "critical",
      "critical",
      "error",
      "warning",
      "notice",
      "info",
      "debug",
    ]);
  });
});
