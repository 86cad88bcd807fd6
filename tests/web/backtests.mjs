// The Backtests page against a running embedded platform, in headless Chromium: a trader runs
// the moving-average crossover on BTCUSDT's stored 15m candles (the simulated market's
// recent sessions), follows the run to done, opens its report (curve, figures, trades),
// runs it again with other parameters and puts the two side by side, then subscribes with
// the second run's parameters. At 1366x768 and 390x844: a screenshot each, and the page
// never scrolls sideways.
//
// Environment: BASE_URL, CHROMIUM, ARTIFACTS. Prints one line per step ("STEP detail");
// exits 1 with "FAIL ..." on the first step that does not hold.
import { mkdirSync } from "node:fs";
import path from "node:path";

import {
  ARTIFACTS,
  BASE_URL,
  SIZES,
  call,
  chromium,
  step,
} from "./harness.mjs";

const STEP_TIMEOUT = 20_000;
const RUN_TIMEOUT = 90_000;
const trader = {
  email: `backtests-${Date.now()}@example.com`,
  password: "correct horse battery",
};

/** Fill the form (BTCUSDT, 15m, the last two days, `fast`) and run; the new run's id. */
async function runBacktest(page, fast) {
  const form = page.locator("#backtest-form");
  await form.locator("select[name=strategy]").selectOption("ma_crossover");
  await form.locator('input[name="params.fast"]').fill(String(fast));
  await form.locator("input[name=symbol]").fill("BTCUSDT");
  await form.locator("select[name=timeframe]").selectOption("15m");
  const from = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
  await form.locator("input[name=from]").fill(from);
  const [answer] = await Promise.all([
    page.waitForResponse(
      (r) => r.url().endsWith("/backtests") && r.request().method() === "POST",
    ),
    page.locator("#run-backtest").click(),
  ]);
  if (answer.status() !== 202)
    throw new Error(
      `POST /backtests ${answer.status()}: ${await answer.text()}`,
    );
  const run = await answer.json();
  await page
    .locator(`#runs tr[data-run="${run.id}"][data-status="done"]`)
    .waitFor({ timeout: RUN_TIMEOUT });
  return run.id;
}

async function reportShown(page, id) {
  const report = page.locator(`#run-${id}`);
  await report.waitFor();
  await page.waitForFunction(
    (chart) =>
      Number(document.querySelector(chart)?.getAttribute("data-points")) > 0,
    `#run-${id}-equity`,
  );
  await report.locator("dl.figures dt").first().waitFor();
  return report;
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
  await call("POST", "/auth/register", {
    ...trader,
    full_name: "Backtest Trader",
  });
  const { access_token: token } = await call("POST", "/auth/login", trader);
  await call(
    "POST",
    "/broker-accounts",
    { label: "Backtest USDT", currency: "USDT" },
    token,
  );

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
  await page.evaluate(() => {
    location.hash = "#/backtests";
  });
  await page.locator('a[data-tab="backtests"][aria-selected="true"]').waitFor();
  await page
    .locator(
      '#backtest-form select[name=strategy] option[value="ma_crossover"]',
    )
    .waitFor({ state: "attached" });

  const first = await runBacktest(page, 5);
  step("RUN_DONE", String(first));
  const report = await reportShown(page, first);
  const points = await page
    .locator(`#run-${first}-equity`)
    .getAttribute("data-points");
  const trades = await report.locator(`#run-${first}-trades tbody tr`).count();
  step("REPORT", `${points} points, ${trades} trade rows`);
  step(
    "FIGURES",
    (await report.locator("dl.figures dt").allTextContents()).join(", "),
  );

  // A second run with a slower fast average, beside the first.
  const second = await runBacktest(page, 8);
  await reportShown(page, second);
  await page
    .locator(`#runs tr[data-run="${first}"] button.compare-run`)
    .click();
  await reportShown(page, first);
  const shown = await page
    .locator("#run-reports .run-report")
    .evaluateAll((cards) =>
      cards.map(
        (c) =>
          `${c.getAttribute("data-run")}@${Math.round(c.getBoundingClientRect().left)}`,
      ),
    );
  step("SIDE_BY_SIDE", shown.join(" "));

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
    step("LAYOUT", `backtests@${width}x${height} overflow=${overflow}`);
    await page.screenshot({
      path: path.join(ARTIFACTS, `backtests-${width}x${height}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });

  // Subscribe with the second run's parameters: the form starts from them.
  await page.locator(`#run-${second} button.subscribe-run`).click();
  const form = page.locator("#subscribe-from-backtest #subscription-form");
  await form.locator('input[name="params.fast"]').waitFor();
  step(
    "SUBSCRIBE_FORM",
    `${await form.locator("input[name=symbols]").inputValue()} ${await form.locator("select[name=timeframe]").inputValue()} fast=${await form.locator('input[name="params.fast"]').inputValue()}`,
  );
  await form.locator("button[type=submit]").click();
  await form.waitFor({ state: "detached" });
  const subscriptions = await call("GET", "/subscriptions", undefined, token);
  const made = (subscriptions.items ?? subscriptions)[0];
  step(
    "SUBSCRIBED",
    `${made.strategy} ${made.symbols.join(",")} ${made.timeframe} fast=${made.params.fast}`,
  );

  // The subscription has the run's strategy, symbol and timeframe: its live results
  // beside the run, over the run's period.
  const compareLive = page.locator(`#run-${second} button.compare-live`);
  await compareLive.click();
  const compare = page.locator(`#run-${second} #live-vs-backtest`);
  const cell = (figure, column) =>
    compare.locator(`tr[data-figure="${figure}"] td.${column}`);
  await page.waitForFunction(
    (id) =>
      document
        .querySelector(
          `#run-${id} #live-vs-backtest tr[data-figure="Round trips"] td.backtest`,
        )
        ?.textContent.trim() !== "-",
    second,
  );
  step(
    "COMPARE_LIVE",
    `run ${await compare.getAttribute("data-run")} of subscription ${made.id}: round trips live ${(await cell("Round trips", "live").textContent()).trim()}, backtest ${(await cell("Round trips", "backtest").textContent()).trim()}`,
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
    step("LAYOUT", `backtests-compare@${width}x${height} overflow=${overflow}`);
    await compare.scrollIntoViewIfNeeded();
    await page.screenshot({
      path: path.join(ARTIFACTS, `backtests-compare-${width}x${height}.png`),
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
          path: path.join(ARTIFACTS, `failure-backtests-${n}.png`),
          fullPage: true,
        })
        .catch(() => undefined);
} finally {
  await browser.close();
}
process.exit(code);
