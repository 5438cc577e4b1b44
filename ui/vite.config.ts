// Build and dev-server settings for the desktop web view (WebKitGTK 2.50 on Linux,
// WKWebView / WebView2 elsewhere) and the vitest unit tests.
import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

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
  },
  build: {
    // WebKitGTK 2.50 is at least Safari 16 in features.
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    // The CSP allows fonts only from 'self': never inline assets as data: URIs.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
