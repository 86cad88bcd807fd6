// What the browser test scripts share: Chromium from the dashboard's own playwright-core,
// the environment they are given (BASE_URL, ARTIFACTS), the two screen sizes, one line
// per step, and a JSON call of the platform's REST API that throws on any error status.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
export const { chromium } = createRequire(path.join(webDir, "package.json"))(
  "playwright-core",
);

export const BASE_URL = process.env.BASE_URL;
export const ARTIFACTS = process.env.ARTIFACTS;
export const API = `${BASE_URL}/api/v1`;
export const SIZES = [
  [1366, 768],
  [390, 844],
];

export function step(name, detail = "") {
  console.log(detail === "" ? name : `${name} ${detail}`);
}

export async function call(method, route, body, token) {
  const response = await fetch(API + route, {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
