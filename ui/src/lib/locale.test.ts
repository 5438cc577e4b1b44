import { describe, expect, it } from "vitest";
import { usableLocale } from "./locale";

describe("usableLocale", () => {
  it("keeps a locale Intl accepts", () => {
    expect(usableLocale("de-DE")).toBe("de-DE");
    expect(usableLocale("en")).toBe("en");
  });
  it("replaces the POSIX 'C' locale and empty values", () => {
    expect(usableLocale("C")).toBe("en-US");
    expect(usableLocale("")).toBe("en-US");
    expect(usableLocale(undefined)).toBe("en-US");
  });
});
