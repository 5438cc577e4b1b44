// Build and dev-server settings for the desktop web view (WebKitGTK 2.50 on Linux,
// WKWebView / WebView2 elsewhere) and the vitest unit tests.
import { readFileSync } from "node:fs";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

/**
 * The app's CSP, read from tauri.conf.json so `vite preview` serves the build under the very
 * policy the desktop web view enforces: a violation shows up in a plain browser too.
 */
function appCsp(): string | undefined {
  try {
    const conf = JSON.parse(readFileSync(new URL("../tauri.conf.json", import.meta.url), "utf8")) as {
      app?: { security?: { csp?: unknown } };
    };
    const csp = conf.app?.security?.csp;
    return typeof csp === "string" ? csp : undefined;
  } catch {
    return undefined;
  }
}

const csp = appCsp();

export default defineConfig({
  plugins: [svelte()],
  // Tauri's CLI prints its own output in the same terminal.
  clearScreen: false,
  server: {
    // tauri.conf.json's devUrl points here; failing beats silently moving to another port.
    port: 1420,
    strictPort: true,
    watch: { ignored: ["**/node_modules/**", "**/dist/**"] },
  },
  preview: {
    port: 1420,
    strictPort: true,
    headers: csp === undefined ? {} : { "Content-Security-Policy": csp },
  },
  build: {
    // WebKitGTK 2.50 is at least Safari 16 in features.
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    // The CSP allows fonts only from 'self': never inline assets as data: URIs.
    assetsInlineLimit: 0,
    sourcemap: false,
    // The world basemap is a chunk of its own, 760 kB of data loaded after start-up, on purpose.
    chunkSizeWarningLimit: 800,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
    // Leaflet's stylesheet is real in tests: the map tests read the panes' stacking from it.
    css: { include: [/leaflet\.css/] },
  },
});
