// Market status in the dashboard: a badge per exchange, and "closed, opens Mon 09:15 IST"
// in the watchlist, the chart and the order ticket.
//
// GET /market/status is answered in the browser from a fixed document (NSE closed for the
// weekend, BINANCE open, NASDAQ closed for a holiday), so the transcript does not depend
// on the hour the test runs; the socket's far end is played here too, and a `status`
// frame then opens NSE.
// Environment: BASE_URL, CHROMIUM. Prints one line per step ("STEP detail").
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
const { chromium } = createRequire(path.join(webDir, "package.json"))(
  "playwright-core",
);

const BASE_URL = process.env.BASE_URL;
const STEP_TIMEOUT = 15_000;

const NSE_CLOSED = {
  exchange: "NSE",
  timezone: "Asia/Kolkata",
  is_open: false,
  reason: "weekend",
  holiday: null,
  trading_day: "2026-12-05",
  session_open: null,
  session_close: null,
  next_open: "2026-12-07T03:45:00Z",
  next_close: "2026-12-07T10:00:00Z",
  message: "NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST",
  ts: "2026-12-05T07:46:25Z",
};
const BINANCE_OPEN = {
  exchange: "BINANCE",
  timezone: "UTC",
  is_open: true,
  reason: "always_open",
  holiday: null,
  trading_day: "2026-12-05",
  session_open: "2026-12-05T00:00:00Z",
  session_close: "2026-12-06T00:00:00Z",
  next_open: null,
  next_close: null,
  message: "BINANCE is open around the clock",
  ts: "2026-12-05T07:46:25Z",
};
const NASDAQ_HOLIDAY = {
  exchange: "NASDAQ",
  timezone: "America/New_York",
  is_open: false,
  reason: "holiday",
  holiday: "Christmas",
  trading_day: "2026-12-25",
  session_open: null,
  session_close: null,
  next_open: "2026-12-28T14:30:00Z",
  next_close: "2026-12-28T21:00:00Z",
  message: "NASDAQ is closed (Christmas); it opens Mon 28 Dec 09:30 EST",
  ts: "2026-12-05T07:46:25Z",
};

function step(name, detail = "") {
  console.log(detail === "" ? name : `${name} ${detail}`);
}

async function text(locator) {
  return ((await locator.textContent()) ?? "").trim();
}

async function run(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  const statuses = [BINANCE_OPEN, NASDAQ_HOLIDAY, NSE_CLOSED];
  await page.route(/\/market\/status(\?|$)/, (route) =>
    route.fulfill({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify(statuses),
    }),
  );
  let feed = null;
  const subscribed = new Set();
  await page.routeWebSocket(/\/ws$/, (ws) => {
    feed = ws;
    ws.onMessage((raw) => {
      const message = JSON.parse(String(raw));
      if (message.op === "auth")
        return ws.send(JSON.stringify({ op: "ready", user_id: 1 }));
      if (message.op === "subscribe") {
        message.channels.forEach((c) => subscribed.add(c));
        ws.send(
          JSON.stringify({
            op: "ack",
            request: "subscribe",
            channels: message.channels,
          }),
        );
      }
    });
  });

  await page.goto(BASE_URL);
  await page.locator("#to-sign-up").click();
  await page.locator("#sign-up input[name=full_name]").fill("Status Trader");
  await page
    .locator("#sign-up input[name=email]")
    .fill(`status-${Date.now()}@example.com`);
  await page
    .locator("#sign-up input[name=password]")
    .fill("correct horse battery");
  await page.locator("#sign-up button[type=submit]").click();
  await page.locator("#sign-out").waitFor();

  const badges = page.locator("#market-status .market-badge");
  await badges.first().waitFor();
  step("BADGES", (await badges.allTextContents()).join("|"));
  step(
    "BADGE_TITLE",
    await page
      .locator('.market-badge[data-exchange="NSE"]')
      .getAttribute("title"),
  );

  const reliance = page.locator(
    '#watchlist tr[data-symbol="RELIANCE"] .market-closed',
  );
  await reliance.waitFor();
  step("WATCHLIST_RELIANCE", await text(reliance));
  const btc = page.locator('#watchlist tr[data-symbol="BTCUSDT"]');
  await btc.waitFor();
  step(
    "WATCHLIST_BTCUSDT_NOTES",
    String(await btc.locator(".market-closed").count()),
  );

  await page.locator('#watchlist tr[data-symbol="RELIANCE"]').click();
  const chartNote = page.locator(".card.chart .market-closed");
  await chartNote.waitFor();
  step("CHART_RELIANCE", await text(chartNote));
  const ticketNote = page.locator(".ticket-card .market-closed");
  await ticketNote.waitFor();
  step("TICKET_RELIANCE", await text(ticketNote));

  await btc.click();
  await page.locator(".card.chart h2", { hasText: "BTCUSDT" }).waitFor();
  await page.locator(".ticket-card input[name=symbol]").waitFor();
  await page.waitForFunction(
    () => !document.querySelector(".card.chart .market-closed"),
  );
  step(
    "CHART_BTCUSDT_NOTES",
    String(await page.locator(".card.chart .market-closed").count()),
  );
  step(
    "TICKET_BTCUSDT_NOTES",
    String(await page.locator(".ticket-card .market-closed").count()),
  );

  // NSE opens: a `status` frame says so, and the notes go away.
  await page.waitForFunction(() => true);
  if (!subscribed.has("status"))
    throw new Error("the page did not subscribe to `status`");
  feed.send(
    JSON.stringify({
      channel: "status",
      data: {
        ...NSE_CLOSED,
        v: 1,
        kind: "market_status",
        is_open: true,
        reason: "open",
        session_open: "2026-12-07T03:45:00Z",
        session_close: "2026-12-07T10:00:00Z",
        message: "NSE is open until 15:30 IST",
        ts: "2026-12-07T03:45:00Z",
      },
    }),
  );
  await page.waitForFunction(
    () =>
      document.querySelector('.market-badge[data-exchange="NSE"]')
        ?.textContent === "NSE open",
  );
  const left = page.locator(
    '#watchlist tr[data-symbol="RELIANCE"] .market-closed',
  );
  step("NSE_OPENED", String(await left.count()));
}

const context = await chromium.launchPersistentContext("", {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1440, height: 960 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
let code = 0;
try {
  await run(context);
  step("DONE");
} catch (error) {
  console.log(
    `FAIL ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
  );
  code = 1;
} finally {
  await context.close();
}
process.exit(code);
