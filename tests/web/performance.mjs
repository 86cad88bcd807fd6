// The Performance page against a running embedded platform, in headless Chromium: a trader
// with a closed BTCUSDT round trip (bought and sold through the REST API) and a strategy
// subscription sees the account's equity curve over its drawdown, the figures, the monthly
// returns and the closed trade; the subscription's report opens too. At 1366x768 and
// 390x844: a screenshot each, and the page never scrolls sideways.
//
// Environment: BASE_URL, CHROMIUM, ARTIFACTS. Prints one line per step ("STEP detail");
// exits 1 with "FAIL ..." on the first step that does not hold.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
const { chromium } = createRequire(path.join(webDir, "package.json"))(
  "playwright-core",
);

const BASE_URL = process.env.BASE_URL;
const ARTIFACTS = process.env.ARTIFACTS;
const API = `${BASE_URL}/api/v1`;
const STEP_TIMEOUT = 20_000;
const SIZES = [
  [1366, 768],
  [390, 844],
];
const trader = {
  email: `perf-${Date.now()}@example.com`,
  password: "correct horse battery",
};

function step(name, detail = "") {
  console.log(detail === "" ? name : `${name} ${detail}`);
}

async function call(method, route, body, token) {
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

/** Wait until the order is FILLED (the simulated feed prices BTCUSDT around the clock). */
async function filled(token, id) {
  const deadline = Date.now() + STEP_TIMEOUT;
  while (Date.now() < deadline) {
    const order = await call("GET", `/orders/${id}`, undefined, token);
    if (order.status === "FILLED") return order;
    if (["REJECTED", "DENIED", "CANCELLED"].includes(order.status))
      throw new Error(`order ${id} ${order.status}: ${order.reason}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`order ${id} not filled in time`);
}

/** A trader with a USDT paper account, one closed BTCUSDT round trip and a subscription. */
async function arrange() {
  await call("POST", "/auth/register", { ...trader, full_name: "Perf Trader" });
  const { access_token: token } = await call("POST", "/auth/login", trader);
  const account = await call(
    "POST",
    "/broker-accounts",
    { label: "Perf USDT", currency: "USDT" },
    token,
  );
  const order = (side) =>
    call(
      "POST",
      "/orders",
      {
        broker_account_id: account.id,
        symbol: "BTCUSDT",
        side,
        quantity: "0.01",
        order_type: "MARKET",
        product: "MIS",
      },
      token,
    );
  await filled(token, (await order("BUY")).id);
  await filled(token, (await order("SELL")).id);
  const subscription = await call(
    "POST",
    "/subscriptions",
    {
      strategy: "ma_crossover",
      params: { fast: 5, slow: 20 },
      symbols: ["BTCUSDT"],
      timeframe: "5m",
      broker_account_id: account.id,
      sizing_method: "fixed_fractional",
      sizing_params: { risk_fraction: "0.01" },
      capital_allocation: "1000.00",
      mode: "paper",
    },
    token,
  );
  step("ARRANGED", `account ${account.id} subscription ${subscription.id}`);
  return { account, subscription };
}

async function openPerformance(page) {
  await page.evaluate(() => {
    location.hash = "#/performance";
  });
  await page
    .locator('a[data-tab="performance"][aria-selected="true"]')
    .waitFor();
}

const pageErrors = [];
mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
let code = 0;
try {
  const { account, subscription } = await arrange();
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(BASE_URL);
  await page.locator("#sign-in input[name=email]").fill(trader.email);
  await page.locator("#sign-in input[name=password]").fill(trader.password);
  await page.locator("#sign-in button[type=submit]").click();
  await page.locator("#sign-out").waitFor();
  await openPerformance(page);

  // The account's report: the first choice.
  const scope = page.locator("#perf-scope");
  await scope.waitFor();
  step("SCOPE", await scope.inputValue());
  const trade = page.locator("#closed-trades tbody tr", { hasText: "BTCUSDT" });
  await trade.waitFor();
  step(
    "CLOSED_TRADE",
    (await trade.locator("td").first().textContent()).trim(),
  );
  const curve = page.locator("#equity-chart");
  await page.waitForFunction(
    () =>
      Number(
        document.querySelector("#equity-chart")?.getAttribute("data-points"),
      ) > 0,
  );
  step(
    "EQUITY_CURVE",
    `${await curve.getAttribute("data-points")} points, ${await curve.locator("canvas").count()} canvases`,
  );
  const labels = await page.locator("#perf-metrics dt").allTextContents();
  step("FIGURES", labels.join(", "));
  step(
    "MONTHLY",
    String(await page.locator("#monthly-returns tbody tr").count()),
  );

  // Each size: a screenshot; the page never scrolls sideways.
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(
      () =>
        Math.max(
          document.documentElement.scrollWidth,
          document.body.scrollWidth,
        ) - innerWidth,
    );
    step("LAYOUT", `performance@${width}x${height} overflow=${overflow}`);
    await page.screenshot({
      path: path.join(ARTIFACTS, `performance-${width}x${height}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });

  // The subscription's report (no orders of its own yet).
  await scope.selectOption(`subscription:${subscription.id}`);
  await page.locator("#perf-metrics dt").first().waitFor();
  await page.locator("#closed-trades tbody td.muted").waitFor();
  step(
    "SUBSCRIPTION_REPORT",
    (
      await page.locator("#closed-trades tbody td").first().textContent()
    ).trim(),
  );
  await scope.selectOption(`account:${account.id}`);
  await trade.waitFor();

  if (pageErrors.length)
    throw new Error(`uncaught page errors: ${pageErrors.join(" | ")}`);
  step("NO_PAGE_ERRORS");
  step("DONE");
} catch (error) {
  console.log(
    `FAIL ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
  );
  code = 1;
  for (const context of browser.contexts())
    for (const [n, page] of context.pages().entries())
      await page
        .screenshot({
          path: path.join(ARTIFACTS, `failure-performance-${n}.png`),
          fullPage: true,
        })
        .catch(() => undefined);
} finally {
  await browser.close();
}
process.exit(code);
