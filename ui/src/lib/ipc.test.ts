import { afterEach, describe, expect, it } from "vitest";
import { isTauriRuntime, toIpcError } from "./ipc";

describe("toIpcError", () => {
  it("keeps a backend IpcError as is", () => {
    expect(toIpcError({ code: "bad_address", message: "Use udpin:HOST:PORT" })).toEqual({
      code: "bad_address",
      message: "Use udpin:HOST:PORT",
    });
  });

  it("wraps the plain strings Tauri rejects with", () => {
    expect(toIpcError("command connect not found")).toEqual({ code: "internal", message: "command connect not found" });
  });

  it("wraps errors and unknown values", () => {
    expect(toIpcError(new Error("boom")).message).toBe("boom");
    expect(toIpcError(42).code).toBe("internal");
    expect(toIpcError({ code: 1, message: "x" }).code).toBe("internal");
  });
});

describe("isTauriRuntime", () => {
  const g = globalThis as { __TAURI_INTERNALS__?: unknown };
  afterEach(() => {
    delete g.__TAURI_INTERNALS__;
  });

  it("is false without the Tauri internals (the demo may load)", () => {
    expect(isTauriRuntime()).toBe(false);
  });

  it("is true when Tauri injected its internals (the demo must not load)", () => {
    g.__TAURI_INTERNALS__ = {};
    expect(isTauriRuntime()).toBe(true);
  });
});
