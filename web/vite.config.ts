// Multi-page build into dist/: index.html, session.html, embed.html and docs.html at the root, everything
// else under dist/assets/ with content hashes (the server caches those for good).

import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const CORE =
  /node_modules\/(@codemirror\/(state|view|language|commands|search|autocomplete|collab|lint|theme-one-dark)|@lezer\/(common|highlight|lr)|@marijn|style-mod|w3c-keyname|crelt)\//;

const COMMON = /\/src\/(api|dom|theme)\.ts$/;

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

/** In `vite dev`, the server's page routes: `/s/{id}` and `/embed/{id}`. */
const pageRoutes: Plugin = {
  name: "livecode-page-routes",
  configureServer(server) {
    server.middlewares.use((req, _res, next) => {
      if (req.url?.startsWith("/s/")) req.url = "/session.html";
      else if (req.url?.startsWith("/embed/")) req.url = "/embed.html";
      else if (req.url === "/docs") req.url = "/docs.html";
      next();
    });
  },
};

export default defineConfig({
  base: "/",
  appType: "mpa",
  plugins: [pageRoutes],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // No inline scripts or data: URLs of ours (Swagger UI's CSS on /docs has its own), so a
    // strict CSP can forbid them on the session pages.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // Swagger UI (the docs page only) is one prebuilt bundle of 1.6 MB.
    chunkSizeWarningLimit: 1700,
    rollupOptions: {
      output: {
        // The editor's core is one chunk shared by the session page and the embed; the few
        // modules the landing page shares with them are another.
        manualChunks: (id) => (CORE.test(id) ? "codemirror" : COMMON.test(id) ? "common" : undefined),
        // Language chunks are named after their package, not after its `dist/` folder.
        chunkFileNames: (chunk) => {
          const id = chunk.facadeModuleId ?? "";
          const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(id)?.[1];
          const mode = /legacy-modes\/mode\/([^/.]+)/.exec(id)?.[1];
          const name = mode ? `mode-${mode}` : pkg ? pkg.replace(/^@/, "").replace(/\//g, "-") : "[name]";
          return `assets/${name}-[hash].js`;
        },
        // The pages' own styles are livecode-*.css; the docs' Swagger UI styles keep their name.
        assetFileNames: (asset) =>
          asset.names.some((n) => n.endsWith(".css") && !n.startsWith("docs"))
            ? "assets/livecode-[hash][extname]"
            : "assets/[name]-[hash][extname]",
      },
      input: {
        index: page("index.html"),
        session: page("session.html"),
        embed: page("embed.html"),
        docs: page("docs.html"),
      },
    },
  },
  server: {
    proxy: {
      "/api": { target: "http://127.0.0.1:8080", ws: true },
    },
  },
});
