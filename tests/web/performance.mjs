// The Performance page against a running embedded platform, in headless Chromium: a trader
// with a closed BTCUSDT round trip (bought and sold through the REST API) and a strategy
// subscription sees the account's equity curve over its drawdown, the figures, the monthly
// returns and the closed trade; the subscription's report opens too, and its live results
// sit beside a backtest of the same period and parameters. On the trade screen the fills
// are marked on the chart, and a new fill is marked as it arrives. At 1366x768 and 390x844:
// a screenshot each, and the page never scrolls sideways.
//
// Environment: BASE_URL, CHROMIUM, ARTIFACTS. Prints one line per step ("STEP detail");
// exits 1 with "FAIL ..." on the first step that does not hold.
import { mkdirSync } from "node:fs";
import path from "node:path";

import {
  API,
  ARTIFACTS,
  BASE_URL,
  SIZES,
  call,
  chromium,
  step,
} from "./harness.mjs";

const STEP_TIMEOUT = 20_000;
const trader = {
  email: `perf-${Date.now()}@example.com`,
  password: "correct horse battery",
};

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
  // A 1m subscription: a closed candle soon falls inside its live period.
  const subscription = await call(
    "POST",
    "/subscriptions",
    {
      strategy: "ma_crossover",
      params: { fast: 5, slow: 20 },
      symbols: ["BTCUSDT"],
      timeframe: "1m",
      broker_account_id: account.id,
      sizing_method: "fixed_fractional",
      sizing_params: { risk_fraction: "0.01" },
      capital_allocation: "1000.00",
      mode: "paper",
    },
    token,
  );
  step("ARRANGED", `account ${account.id} subscription ${subscription.id}`);
  return { account, subscription, token, order };
}

/** The fills marked on the trade screen's chart (the count the chart reports). */
async function fillsMarked(page, atLeast) {
  await page.waitForFunction(
    (n) =>
      Number(document.querySelector("#chart")?.dataset.fillsMarked ?? 0) >= n,
    atLeast,
    { timeout: 90_000 }, // with no closed candle yet, the first bar takes up to a minute
  );
  return Number(await page.locator("#chart").getAttribute("data-fills-marked"));
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
  const { account, subscription, token, order } = await arrange();
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

  // The trade screen's chart marks the round trip's fills, then a new one live.
  await page.locator('#watchlist tr[data-symbol="BTCUSDT"]').click();
  await page.locator('#watchlist tr.selected[data-symbol="BTCUSDT"]').waitFor();
  const before = await fillsMarked(page, 2);
  step(
    "FILL_MARKS",
    `${before} fills, ${await page.locator("#chart").getAttribute("data-fill-marks")} markers`,
  );
  await filled(token, (await order("BUY")).id);
  const after = await fillsMarked(page, before + 1);
  step("FILL_MARKED_LIVE", `${before} -> ${after}`);
  await page.screenshot({
    path: path.join(ARTIFACTS, "trade-fill-marks-1366x768.png"),
  });
  await filled(token, (await order("SELL")).id); // flat again
  await fillsMarked(page, before + 2);
  await openPerformance(page);

  // The account's report: the first choice.
  const scope = page.locator("#perf-scope");
  await scope.waitFor();
  step("SCOPE", await scope.inputValue());
  const trade = page
    .locator("#closed-trades tbody tr", { hasText: "BTCUSDT" })
    .first(); // the round trip of the arrangement, and the one of the chart's check
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
  await page.locator("#perf-metrics dt").first().waitFor(); // the figures may come last
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

  // Live against a backtest of the same period: once a 1m candle closed inside it.
  const opened = Date.parse(subscription.created_at);
  const candleClosed = (Math.floor(opened / 60_000) + 2) * 60_000 + 3_000;
  await page.waitForTimeout(Math.max(0, candleClosed - Date.now()));
  // The report read earlier is shown at once and read again: compare the fresh period.
  const fresh = page.waitForResponse((r) =>
    r.url().includes(`/analytics/subscriptions/${subscription.id}/metrics`),
  );
  await scope.selectOption(`subscription:${subscription.id}`);
  await fresh;
  await page.waitForFunction(
    (after) =>
      Date.parse(
        document.querySelector("#live-vs-backtest")?.getAttribute("data-end"),
      ) > after,
    candleClosed,
  );
  const compare = page.locator("#live-vs-backtest");
  await compare.locator("#compare-backtest").click();
  const backtestTrips = compare.locator(
    '#compare-figures tr[data-figure="Round trips"] td.backtest',
  );
  await page.waitForFunction(
    () => {
      const cell = document.querySelector(
        '#live-vs-backtest tr[data-figure="Round trips"] td.backtest',
      );
      return (
        (cell && cell.textContent.trim() !== "-") ||
        document.querySelector("#live-vs-backtest .error")
      );
    },
    null,
    { timeout: 60_000 },
  );
  const failed = await compare.locator(".error").count();
  if (failed)
    throw new Error(
      `comparison: ${(await compare.locator(".error").first().textContent()).trim()}`,
    );
  step(
    "LIVE_VS_BACKTEST",
    `run ${await compare.getAttribute("data-run")}, round trips live ${(await compare.locator('tr[data-figure="Round trips"] td.live').textContent()).trim()} backtest ${(await backtestTrips.textContent()).trim()}`,
  );
  await page.waitForFunction(
    () =>
      Number(
        document
          .querySelector("#compare-backtest-equity")
          ?.getAttribute("data-points"),
      ) > 0,
  );
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
    step(
      "LAYOUT",
      `performance-compare@${width}x${height} overflow=${overflow}`,
    );
    await compare.scrollIntoViewIfNeeded();
    await page.screenshot({
      path: path.join(ARTIFACTS, `performance-compare-${width}x${height}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });

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
