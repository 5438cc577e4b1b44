import { describe, expect, it } from "vitest";
import { IdleTimer, parseAutoLock } from "./idle";

describe("IdleTimer", () => {
  it("is never due while auto-lock is off", () => {
    const t = new IdleTimer(0);
    expect(t.due(10 * 3_600_000)).toBe(false);
    expect(t.remainingMs(5)).toBeNull();
  });

  it("is due once the limit passes without input", () => {
    const t = new IdleTimer(0);
    t.setLimit(5, 1_000);
    expect(t.due(1_000 + 5 * 60_000 - 1)).toBe(false);
    expect(t.due(1_000 + 5 * 60_000)).toBe(true);
  });

  it("restarts the countdown on input", () => {
    const t = new IdleTimer(0);
    t.setLimit(1, 0);
    t.activity(50_000);
    expect(t.due(60_000)).toBe(false);
    expect(t.remainingMs(60_000)).toBe(50_000);
    expect(t.due(110_000)).toBe(true);
  });

  it("ignores input reported out of order", () => {
    const t = new IdleTimer(0);
    t.setLimit(1, 0);
    t.activity(30_000);
    t.activity(10_000);
    expect(t.remainingMs(30_000)).toBe(60_000);
  });

  it("a new limit starts from now", () => {
    const t = new IdleTimer(0);
    t.setLimit(1, 0);
    t.setLimit(2, 100_000);
    expect(t.due(160_000)).toBe(false);
    expect(t.due(220_000)).toBe(true);
    t.setLimit(null, 0);
    expect(t.due(1e12)).toBe(false);
  });
});

describe("parseAutoLock", () => {
  it("reads minutes or off", () => {
    expect(parseAutoLock("15")).toEqual({ ok: true, minutes: 15 });
    expect(parseAutoLock(" off ")).toEqual({ ok: true, minutes: null });
    expect(parseAutoLock("")).toEqual({ ok: true, minutes: null });
    expect(parseAutoLock("0").ok).toBe(false);
    expect(parseAutoLock("1.5").ok).toBe(false);
    expect(parseAutoLock("2000").ok).toBe(false);
  });
});
