// Copies the API docs' assets (Swagger UI and ReDoc, npm packages) into dist/api-docs, so the
// gateway's /api/v1/docs and /api/v1/redoc pages render with no internet connection.
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "dist", "api-docs");
const assets = [
  "swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui-dist/swagger-ui.css",
  "swagger-ui-dist/favicon-32x32.png",
  "redoc/bundles/redoc.standalone.js",
];
mkdirSync(out, { recursive: true });
for (const asset of assets)
  copyFileSync(path.join(here, "node_modules", asset), path.join(out, path.basename(asset)));
