import { describe, expect, it } from "vitest";
import { createProblem, passphraseStrength } from "./passphrase";

describe("passphraseStrength", () => {
  it("refuses short passphrases", () => {
    expect(passphraseStrength("abc").strength).toBe("too_short");
    expect(passphraseStrength("").strength).toBe("too_short");
  });

  it("calls common words and sequences weak", () => {
    expect(passphraseStrength("password1").strength).toBe("weak");
    expect(passphraseStrength("12345678").strength).toBe("weak");
    expect(passphraseStrength("aaaaaaaaaaaa").strength).toBe("weak");
    expect(passphraseStrength("airgap2024").strength).toBe("weak");
  });

  it("rewards length and variety", () => {
    expect(passphraseStrength("kestrel9").strength).toBe("fair");
    expect(passphraseStrength("correct horse battery staple").strength).toBe("strong");
    const a = passphraseStrength("kestrel-orbit");
    const b = passphraseStrength("kestrel-orbit-lantern");
    expect(b.bits).toBeGreaterThan(a.bits);
  });

  it("counts characters, not UTF-16 units", () => {
    expect(passphraseStrength("ñandú🙂🙂").strength).toBe("too_short");
  });
});

describe("createProblem", () => {
  it("asks for length, then for the same passphrase twice", () => {
    expect(createProblem("short", "short")).toMatch(/at least 8/);
    expect(createProblem("long enough", "long enougH")).toMatch(/differ/);
    expect(createProblem("long enough", "long enough")).toBeNull();
  });
});
