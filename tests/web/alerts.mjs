// Alerts in the dashboard against a running embedded platform, in headless Chromium: the
// header's bell counts a new alert live (an order fills), the Alerts page filters the
// history, marks one and then all read and shows the statistics; the notification settings
// save the dashboard's channel with a lowest severity, send a test (the bell counts it),
// and show why a webhook to a loopback address is refused; price alerts are set from the
// watchlist and from the chart and listed. At 1366x768 and 390x844: a screenshot each, and
// the page never scrolls sideways.
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
  email: `alerts-${Date.now()}@example.com`,
  password: "correct horse battery",
};

async function openTab(page, tab) {
  await page.evaluate((t) => {
    location.hash = `#/${t}`;
  }, tab);
  await page.locator(`a[data-tab="${tab}"][aria-selected="true"]`).waitFor();
}

const unread = (page) =>
  page
    .locator("#alert-bell")
    .getAttribute("data-unread")
    .then((n) => Number(n));

/** Wait until the bell counts at least `min` (or exactly 0 when `min` is 0). */
async function unreadBecomes(page, min) {
  await page.waitForFunction((n) => {
    const held = Number(document.querySelector("#alert-bell")?.dataset.unread);
    return n === 0 ? held === 0 : held >= n;
  }, min);
  return unread(page);
}

async function overflow(page) {
  return page.evaluate(
    () =>
      Math.max(
        document.documentElement.scrollWidth,
        document.body.scrollWidth,
      ) - innerWidth,
  );
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
    full_name: "Alert Trader",
  });
  const { access_token: token } = await call("POST", "/auth/login", trader);
  const account = await call(
    "POST",
    "/broker-accounts",
    { label: "Alerts USDT", currency: "USDT" },
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
  await page.locator('#live-status[data-status="live"]').waitFor();

  // The bell: an order fills (placed through the API), the count goes up without a reload.
  const before = await unread(page);
  await call(
    "POST",
    "/orders",
    {
      broker_account_id: account.id,
      symbol: "BTCUSDT",
      side: "BUY",
      quantity: "0.01",
      order_type: "MARKET",
      product: "MIS",
    },
    token,
  );
  const after = await unreadBecomes(page, before + 1);
  step("BELL_LIVE", `${before} -> ${after}`);
  await page.screenshot({
    path: path.join(ARTIFACTS, "alert-bell-1366x768.png"),
    clip: { x: 0, y: 0, width: 1366, height: 120 },
  });

  // The history: filters, mark one read, mark all read, statistics.
  await page.locator("#alert-bell").click();
  await page.locator('a[data-tab="alerts"][aria-selected="true"]').waitFor();
  const filled = page.locator('#alert-list tr[data-kind="order_filled"]');
  await filled.first().waitFor();
  step(
    "HISTORY",
    (await filled.first().locator(".alert-title").textContent()).trim(),
  );
  const filters = page.locator("#alert-filters");
  await filters.locator("select[name=severity]").selectOption("CRITICAL");
  await page
    .locator("#alert-list td.muted", { hasText: "No alert here" })
    .waitFor();
  step("FILTER_SEVERITY", `CRITICAL ${await filled.count()}`);
  await filters.locator("select[name=severity]").selectOption("");
  await filters.locator("select[name=kind]").selectOption("order_filled");
  await filters.locator("select[name=read]").selectOption("false");
  await filled.first().waitFor();
  const unreadRows = await page
    .locator("#alert-list tbody tr[data-alert]")
    .count();
  await filled.first().locator("button.mark-read").click();
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll("#alert-list tbody tr[data-alert]").length < n,
    unreadRows,
  );
  step(
    "MARKED_ONE",
    `${unreadRows} -> ${await page.locator("#alert-list tbody tr[data-alert]").count()} unread, bell ${await unread(page)}`,
  );
  await filters.locator("select[name=kind]").selectOption("");
  await filters.locator("select[name=read]").selectOption("");
  await page.locator("#mark-all-read").click();
  await unreadBecomes(page, 0);
  await page
    .locator('#alert-list tbody tr[data-read="false"]')
    .first()
    .waitFor({ state: "detached" });
  step(
    "MARKED_ALL",
    `bell ${await unread(page)}, count shown ${await page.locator("#alert-count").count()}`,
  );
  await page.locator("#alerts-unread", { hasText: "0" }).waitFor();
  step(
    "STATISTICS",
    `total ${(await page.locator("#alerts-total").textContent()).trim()}, kinds ${(
      await page
        .locator("#stats-by-kind tr[data-kind]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-kind")))
    ).join(",")}`,
  );

  // Notification settings: the dashboard's channel saved with some severities off, a test.
  await page.locator("#customise-websocket").click();
  const ws = page.locator(
    '#notification-channels form.channel[data-kind="websocket"]',
  );
  await ws.waitFor();
  await ws.locator("input[name=severity-INFO]").uncheck();
  await ws.locator("input[name=severity-ERROR]").uncheck();
  await ws.locator("input[name=kind-kill_switch]").check();
  await ws.locator("button.save-channel").click();
  await page
    .locator(
      '#notification-channels form.channel[data-kind="websocket"][data-channel]:not([data-channel="new"]) input[name=severity-INFO]:not(:checked)',
    )
    .waitFor();
  const saved = await call("GET", "/notification-channels", undefined, token);
  const mine = saved.items.find((c) => c.kind === "websocket");
  step(
    "CHANNEL_SAVED",
    `${mine.kind} ${mine.severities.join(",")} ${mine.kinds.join(",")} default=${saved.websocket_default}`,
  );
  const bellBeforeTest = await unread(page);
  await page
    .locator(
      '#notification-channels form.channel[data-kind="websocket"] button.send-test',
    )
    .click();
  const result = page.locator("#notification-channels .test-result");
  await result.waitFor();
  step("CHANNEL_TEST", await result.getAttribute("data-status"));
  step(
    "BELL_AFTER_TEST",
    `${bellBeforeTest} -> ${await unreadBecomes(page, bellBeforeTest + 1)}`,
  );
  // A webhook to this machine is refused when saved (the defaults allow no loopback).
  await page.locator("#add-channel").click();
  const fresh = page.locator("#new-channel");
  await fresh.locator("select[name=kind]").selectOption("webhook");
  await fresh
    .locator('input[name="config.url"]')
    .fill("https://127.0.0.1/hook");
  await fresh.locator("button.save-channel").click();
  const refused = fresh.locator(".error");
  await refused.waitFor();
  step(
    "WEBHOOK_REFUSED",
    `${(await refused.textContent()).trim().slice(0, 80)} | outlined ${await fresh.locator('input[name="config.url"][aria-invalid="true"]').count()}`,
  );

  // Every size: the Alerts page (history, statistics, settings open, price alerts).
  const sideways = [];
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300);
    const over = await overflow(page);
    if (over > 0) sideways.push(`alerts@${width} by ${over}px`);
    step("LAYOUT", `alerts@${width}x${height} overflow=${over}`);
    await page.screenshot({
      path: path.join(ARTIFACTS, `alerts-${width}x${height}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  // The dark theme (the system's setting is followed by default).
  await page.emulateMedia({ colorScheme: "dark" });
  await page.waitForTimeout(200);
  step(
    "DARK",
    await page.evaluate(
      () =>
        getComputedStyle(document.querySelector("#alert-history"))
          .backgroundColor,
    ),
  );
  await page.screenshot({
    path: path.join(ARTIFACTS, "dark-alerts-1366x768.png"),
    fullPage: true,
  });
  await page.emulateMedia({ colorScheme: "light" });

  // Price alerts: from the watchlist (crosses above), from the chart (a move), listed.
  await openTab(page, "trade");
  const row = page.locator('#watchlist tr[data-symbol="BTCUSDT"]');
  await row.click();
  await row.locator("button.price-alert").click();
  const dialog = page.locator("#price-alert-dialog");
  await dialog.waitFor();
  const priceField = dialog.locator("input[name=price]");
  await page.waitForFunction(
    () =>
      Number(
        document.querySelector("#price-alert-dialog input[name=price]")?.value,
      ) > 0,
  );
  const last = Number(await priceField.inputValue());
  const target = (last * 1.5).toFixed(2);
  await priceField.fill(target);
  await dialog.locator("input[name=note]").fill("from the watchlist");
  await page.setViewportSize({ width: SIZES[1][0], height: SIZES[1][1] });
  await page.waitForTimeout(200);
  step("LAYOUT", `price-alert-dialog@390x844 overflow=${await overflow(page)}`);
  await page.screenshot({
    path: path.join(ARTIFACTS, "price-alert-dialog-390x844.png"),
  });
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  await dialog.locator("button[type=submit]").click();
  await dialog.waitFor({ state: "detached" });
  await page.locator("#chart-price-alert").click();
  await dialog.waitFor();
  await dialog.locator("select[name=condition]").selectOption("moves_pct");
  await dialog.locator("input[name=percent]").fill("5");
  await dialog.locator("input[name=window_minutes]").fill("10");
  await dialog.locator("select[name=repeat]").selectOption("repeating");
  await dialog.locator("button[type=submit]").click();
  await dialog.waitFor({ state: "detached" });
  await openTab(page, "alerts");
  const listed = page.locator(
    "#price-alert-list tr[data-price-alert] td.condition",
  );
  await page.waitForFunction(
    () =>
      document.querySelectorAll("#price-alert-list tr[data-price-alert]")
        .length >= 2,
  );
  const conditions = (await listed.allTextContents()).map((t) => t.trim());
  step("PRICE_ALERTS", conditions.join(" | "));
  step("PRICE_TARGET", target);
  const stored = await call("GET", "/price-alerts", undefined, token);
  step(
    "PRICE_ALERTS_STORED",
    stored.items
      .map((a) => `${a.symbol} ${a.condition} ${a.repeat} ${a.note || "-"}`)
      .sort()
      .join(" | "),
  );

  step(
    sideways.length ? "SIDEWAYS_SCROLL" : "NO_SIDEWAYS_SCROLL",
    sideways.join("; "),
  );
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
          path: path.join(ARTIFACTS, `failure-alerts-${n}.png`),
          fullPage: true,
        })
        .catch(() => undefined);
} finally {
  await browser.close();
}
process.exit(code);
