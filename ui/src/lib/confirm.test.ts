import { describe, expect, it } from "vitest";
import { Confirmer } from "./confirm.svelte";

describe("Confirmer", () => {
  it("resolves with the pilot's answer and closes", async () => {
    const c = new Confirmer();
    const asked = c.ask({ title: "Arm vehicle 1 (ArduCopter)?", action: "Arm" });
    expect(c.request?.title).toBe("Arm vehicle 1 (ArduCopter)?");
    c.answer(true);
    await expect(asked).resolves.toBe(true);
    expect(c.request).toBeNull();
  });

  it("a new question answers an open one with no", async () => {
    const c = new Confirmer();
    const first = c.ask({ title: "Land?", action: "Land" });
    const second = c.ask({ title: "RTL?", action: "RTL" });
    await expect(first).resolves.toBe(false);
    c.answer(false);
    await expect(second).resolves.toBe(false);
  });
});
