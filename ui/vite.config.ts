import { defineConfig } from "vitest/config";

// The Rust shell embeds ui/dist; relative asset URLs keep it independent of the
// custom protocol's origin.
export default defineConfig({
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2021",
    // Nothing may be inlined as a data: URL or inline script: the CSP forbids it.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
    restoreMocks: true,
  },
});
