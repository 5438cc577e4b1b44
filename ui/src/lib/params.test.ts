import { describe, expect, it } from "vitest";
import { diffParams, filterParams, formatValue, parseParamValue, pendingWrites, sameValue } from "./params";

const p = (name: string, value: number, param_type = "INT16") => ({ name, value, param_type });

describe("parseParamValue", () => {
  it("integer types reject fractions", () => {
    expect(parseParamValue("1.5", "INT16")).toEqual({ ok: false, error: "INT16 holds whole numbers only." });
    expect(parseParamValue("2", "UINT8")).toEqual({ ok: true, value: 2 });
    expect(parseParamValue("2.0", "INT32")).toEqual({ ok: true, value: 2 });
  });

  it("integer types reject values out of their range", () => {
    expect(parseParamValue("256", "UINT8").ok).toBe(false);
    expect(parseParamValue("-1", "UINT8").ok).toBe(false);
    expect(parseParamValue("-128", "INT8").ok).toBe(true);
    expect(parseParamValue("-129", "INT8").ok).toBe(false);
    expect(parseParamValue("32768", "INT16").ok).toBe(false);
    expect(parseParamValue("2147483648", "INT32").ok).toBe(false);
    expect(parseParamValue("4294967295", "UINT32").ok).toBe(true);
  });

  it("floats take fractions and exponents", () => {
    expect(parseParamValue("0.135", "REAL32")).toEqual({ ok: true, value: 0.135 });
    expect(parseParamValue("-1e-3", "REAL32")).toEqual({ ok: true, value: -0.001 });
    expect(parseParamValue("1e39", "REAL32").ok).toBe(false);
  });

  it("rejects what is not a plain number", () => {
    for (const text of ["", "  ", "abc", "0x10", "1,5", "NaN", "Infinity", "1e", "--1"]) {
      expect(parseParamValue(text, "REAL32").ok, text).toBe(false);
    }
  });

  it("applies the documented range of known parameters", () => {
    expect(parseParamValue("1500", "INT32", "RTL_ALT")).toEqual({ ok: true, value: 1500 });
    const r = parseParamValue("400000", "INT32", "RTL_ALT");
    expect(r).toEqual({ ok: false, error: "At most 300000 cm." });
    expect(parseParamValue("0", "INT8", "SYSID_THISMAV").ok).toBe(false);
  });

  it("refuses types it cannot check", () => {
    expect(parseParamValue("1", "UINT64").ok).toBe(false);
  });
});

describe("comparing values", () => {
  it("REAL32 values compare at float precision", () => {
    expect(sameValue(0.1, Math.fround(0.1), "REAL32")).toBe(true);
    expect(sameValue(0.1, Math.fround(0.1), "INT32")).toBe(false);
    expect(formatValue(Math.fround(0.135), "REAL32")).toBe("0.135");
    expect(formatValue(1500, "INT32")).toBe("1500");
  });

  it("pending writes are the valid edits that change something", () => {
    const params = [p("A", 1), p("B", 2), p("C", 3), p("D", 0.5, "REAL32")];
    expect(pendingWrites(params, { A: "1", B: "5", C: "x", D: "0.25" })).toEqual([
      { name: "B", value: 5 },
      { name: "D", value: 0.25 },
    ]);
  });

  it("diffs the vehicle against a file", () => {
    const vehicle = [p("A", 1), p("B", 2), p("V", 9), p("F", Math.fround(0.1), "REAL32")];
    const file = [p("B", 3), p("A", 1), p("X", 4), p("F", 0.1, "REAL32")];
    expect(diffParams(vehicle, file)).toEqual({
      changed: [{ name: "B", vehicle: 2, file: 3, paramType: "INT16" }],
      onlyVehicle: ["V"],
      onlyFile: ["X"],
    });
  });
});

describe("filterParams", () => {
  const all = [p("RTL_ALT", 1500), p("RTL_SPEED", 0), p("WPNAV_SPEED", 500), p("SERVO1_FUNCTION", 33)];
  it("matches every word in the name or the known description", () => {
    expect(filterParams(all, "rtl").map((x) => x.name)).toEqual(["RTL_ALT", "RTL_SPEED"]);
    expect(filterParams(all, "speed rtl").map((x) => x.name)).toEqual(["RTL_SPEED"]);
    expect(filterParams(all, "horizontal").map((x) => x.name)).toEqual(["RTL_SPEED", "WPNAV_SPEED"]);
    expect(filterParams(all, "  ")).toBe(all);
  });
});
