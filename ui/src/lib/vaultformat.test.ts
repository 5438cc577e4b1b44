import { describe, expect, it } from "vitest";
import { fmtBytes, fmtDateTime, fmtDuration } from "./vault.svelte";

describe("vault list formatting", () => {
  it("sizes", () => {
    expect(fmtBytes(0)).toBe("0 B");
    expect(fmtBytes(999)).toBe("999 B");
    expect(fmtBytes(1500)).toBe("1.5 kB");
    expect(fmtBytes(9_830_400)).toBe("9.8 MB");
    expect(fmtBytes(250_000_000)).toBe("250 MB");
    expect(fmtBytes(-1)).toBe("—");
  });

  it("durations", () => {
    expect(fmtDuration(7)).toBe("0:07");
    expect(fmtDuration(1260)).toBe("21:00");
    expect(fmtDuration(3909)).toBe("1:05:09");
    expect(fmtDuration(Number.NaN)).toBe("—");
  });

  it("dates in local time", () => {
    const ms = new Date(2024, 1, 29, 13, 4).getTime();
    expect(fmtDateTime(ms)).toBe("2024-02-29 13:04");
  });
});
