import { describe, expect, it } from "vitest";
import type { SealView } from "./bindings/SealView";
import { badgeText, engageBody, protectionText, sealBadge } from "./seal";

function view(patch: Partial<SealView>): SealView {
  return {
    sealed: true,
    selftest_passed: true,
    layers: [
      { layer: "egress gate", outcome: "pass", detail: "refused" },
      { layer: "OS seal", outcome: "absent", detail: "not implemented yet on this OS" },
    ],
    os_layer: "not in place: not available on Windows yet: the egress gate and the web-view lockdown hold",
    os_layer_available: false,
    refused: 0,
    os_refused: null,
    switch: "sealed",
    sealed_flag: false,
    pending: null,
    reopen: [],
    ...patch,
  };
}

describe("sealBadge", () => {
  it("says SEALED only when sealed and the self-test passed", () => {
    expect(sealBadge(view({}))).toBe("sealed");
    expect(badgeText(sealBadge(view({})))).toBe("SEALED");
  });

  it("never says SEALED when the self-test failed", () => {
    const failed = view({ selftest_passed: false, layers: [{ layer: "egress gate", outcome: "fail", detail: "192.0.2.1:9 would be reached" }] });
    expect(sealBadge(failed)).toBe("failed");
    expect(badgeText(sealBadge(failed))).not.toContain("SEALED");
    expect(protectionText(failed)).toContain("192.0.2.1:9 would be reached");
  });

  it("is online when not sealed, whatever the switch says", () => {
    expect(sealBadge(view({ sealed: false, switch: "sealed" }))).toBe("online");
    expect(sealBadge(null)).toBe("unknown");
  });
});

describe("the texts", () => {
  it("say plainly when the OS layer is not available", () => {
    expect(protectionText(view({}))).toContain("OS layer not in place: not available on Windows yet");
  });

  it("name what a restart reopens and what happens to loopback and serial links", () => {
    const body = engageBody(view({ sealed: false, reopen: ["tcp:127.0.0.1:5760", "the built-in simulated vehicle"] }));
    expect(body).toContain("tcp:127.0.0.1:5760");
    expect(body).toContain("loopback");
    expect(body).toContain("serial");
    expect(engageBody(view({ sealed: true }))).toContain("Nothing restarts");
  });
});
