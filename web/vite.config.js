import { defineConfig } from 'vite';

// The build lands in internal/dashboard/dist, which the Go binary embeds
// (go:embed). public/.keep is copied along so the directory the embed
// directive names always exists. `npm run dev` proxies the API to a
// dashboard running on the default address.
export default defineConfig({
  base: '/',
  build: {
    outDir: '../internal/dashboard/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
