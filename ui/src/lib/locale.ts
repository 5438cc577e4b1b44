// WebKitGTK reports the process locale as `navigator.language`; with LANG unset or "C"
// (CI, Xvfb, minimal installs) that is "C", which Intl rejects — and uPlot builds an
// Intl.NumberFormat from it when its module loads, killing the whole page. Imported first by
// main.ts, so the fix is in place before any other module evaluates.

/** `lang` if Intl accepts it, otherwise `fallback`. */
export function usableLocale(lang: string | undefined, fallback = "en-US"): string {
  if (!lang) return fallback;
  try {
    new Intl.NumberFormat(lang);
    return lang;
  } catch {
    return fallback;
  }
}

export function guardNavigatorLanguage(): void {
  if (typeof navigator === "undefined") return;
  const lang = usableLocale(navigator.language);
  if (lang !== navigator.language) {
    Object.defineProperty(navigator, "language", { value: lang, configurable: true });
  }
}

guardNavigatorLanguage();
