// Drives the dashboard in headless Chromium against a running platform.
//
// Environment: BASE_URL (the platform, e.g. http://127.0.0.1:8123), CHROMIUM (the browser
// binary), PROFILE_DIR (an empty browser profile dir), SCREENSHOT (where to save the picture),
// ADMIN_EMAIL / ADMIN_PASSWORD (an existing admin; optional).
// Prints one line per step reached ("STEP detail"); exits 1 with "FAIL ..." on the first
// step that does not hold.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
// playwright-core is a devDependency of the dashboard: resolve it from web/node_modules.
const { chromium } = createRequire(path.join(webDir, "package.json"))("playwright-core");

const BASE_URL = required("BASE_URL");
const SCREENSHOT = required("SCREENSHOT");
const STEP_TIMEOUT = 15_000;

const trader = {
  name: "Asha Trader",
  email: `trader-${Date.now()}@example.com`,
  password: "correct horse battery",
};
const accountLabel = "E2E paper";

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.log(`FAIL missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

function step(name, detail = "") {
  console.log(detail === "" ? name : `${name} ${detail}`);
}

async function signIn(page, email, password) {
  await page.locator("#sign-in input[name=email]").fill(email);
  await page.locator("#sign-in input[name=password]").fill(password);
  await page.locator("#sign-in button[type=submit]").click();
}

async function run(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));

  await page.goto(BASE_URL);
  await page.locator("#sign-in").waitFor();
  step("SIGN_IN_PAGE");

  // Sign up: the new account is signed in at once.
  await page.locator("#to-sign-up").click();
  await page.locator("#sign-up input[name=full_name]").fill(trader.name);
  await page.locator("#sign-up input[name=email]").fill(trader.email);
  await page.locator("#sign-up input[name=password]").fill(trader.password);
  await page.locator("#sign-up button[type=submit]").click();
  await page.locator("#sign-out").waitFor();
  step("SIGNED_UP", trader.email);

  await page.locator("#sign-out").click();
  await page.locator("#sign-in").waitFor();
  step("SIGNED_OUT", (await page.locator("#sign-in .notice").textContent()) ?? "");

  // A wrong password shows the API's message next to the form.
  await signIn(page, trader.email, "not the password");
  const error = page.locator("#sign-in .error");
  await error.waitFor();
  step("LOGIN_ERROR", (await error.textContent()).trim());

  await signIn(page, trader.email, trader.password);
  await page.locator(".topbar .who").waitFor();
  step("SIGNED_IN", (await page.locator(".topbar .who").textContent()).trim());

  const rows = await page.locator("#watchlist tbody tr").count();
  step("WATCHLIST", String(rows));
  await page.locator("#chart canvas").first().waitFor();
  step("CHART");

  const storage = await page.evaluate(() => ({
    local: JSON.stringify(localStorage),
    session: Object.keys(sessionStorage),
  }));
  if (/token/i.test(storage.local)) throw new Error("tokens found in localStorage");
  if (!storage.session.includes("algotrade.session"))
    throw new Error("no session in sessionStorage");
  step("TOKENS_IN_SESSION_STORAGE_ONLY");

  // A paper broker account: created, listed and selected for trading.
  await page.locator('a[data-tab="accounts"]').click();
  await page.locator("#account-form input[name=label]").fill(accountLabel);
  await page.locator("#account-form input[name=starting_capital]").fill("100000");
  await page.locator("#create-account").click();
  const row = page.locator("#account-list tbody tr", { hasText: accountLabel });
  await row.waitFor();
  step(
    "ACCOUNT_CREATED",
    `${accountLabel} | ${(await row.locator("td").nth(2).textContent()).trim()}`,
  );
  const picked = await page.locator("#account-picker option:checked").textContent();
  if (!picked?.includes(accountLabel)) throw new Error(`account picker shows ${picked}`);
  step("ACCOUNT_SELECTED", picked);

  await subscribe(page);

  await page.locator('a[data-tab="trade"]').click();
  await page.locator("#order-ticket").waitFor();
  await page.waitForTimeout(500); // let the panels finish their first reads
  step("LIVE_STATUS", (await page.locator("#live-status").textContent()) ?? "");

  // Reload keeps the tab signed in (the session lives in sessionStorage).
  await page.reload();
  await page.locator("#sign-out").waitFor();
  step("RELOAD_KEEPS_SESSION");

  await checkLiveFrames(page);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  step("SCREENSHOT", SCREENSHOT);

  if (pageErrors.length) throw new Error(`uncaught page errors: ${pageErrors.join(" | ")}`);
  step("NO_PAGE_ERRORS");

  const adminEmail = process.env.ADMIN_EMAIL;
  const adminPassword = process.env.ADMIN_PASSWORD;
  if (adminEmail && adminPassword) {
    // The admin sees the trader in the users list (another tab: its own sessionStorage).
    const admin = await context.newPage();
    admin.setDefaultTimeout(STEP_TIMEOUT);
    await admin.goto(BASE_URL);
    await signIn(admin, adminEmail, adminPassword);
    await admin.locator('a[data-tab="admin"]').click();
    const user = admin.locator("#admin-users tbody tr", { hasText: trader.email });
    await user.waitFor();
    step("ADMIN_SEES_USER", trader.email);
  }
}

// A strategy subscription through the form built from the catalog's JSON Schema: the
// parameters carry the schema's titles and names, and Decimal parameters go out as strings.
async function subscribe(page) {
  await page.locator('a[data-tab="strategies"]').click();
  await page.locator('.strategy[data-strategy="ma_crossover"] button').click();
  const form = page.locator("#subscription-form");
  const fast = form.locator('input[name="params.fast"]');
  await fast.waitFor();
  const labels = await form.locator("fieldset label").allTextContents();
  step("SCHEMA_FORM", labels.map((l) => l.trim()).join(", "));
  await fast.fill("12");
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/api/v1/subscriptions")),
    form.locator("button[type=submit]").click(),
  ]);
  const body = request.postDataJSON();
  // The list shows the catalog's title of the strategy ("Moving-average crossover").
  const row = page.locator("tr[data-subscription]", { hasText: "Moving-average crossover" });
  await row.waitFor();
  step(
    "SUBSCRIBED",
    `${body.strategy} | fast=${JSON.stringify(body.params.fast)} | risk_fraction=${JSON.stringify(body.sizing_params.risk_fraction)} | ${(await row.locator(".status").textContent()).trim()}`,
  );
}

// Live frames reach the watchlist and the order list. The embedded platform has no market
// feed wired, so the socket's far end is played here (the REST side stays the real one):
// it checks the client authenticates first, then answers as the /ws endpoint does.
async function checkLiveFrames(page) {
  let feed = null;
  let authenticated = false;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    feed = ws;
    ws.onMessage((raw) => {
      const message = JSON.parse(String(raw));
      if (!authenticated) {
        authenticated =
          message.op === "auth" && typeof message.token === "string" && message.token.length > 20;
        if (!authenticated) return ws.close({ code: 1008, reason: "authenticate first" });
        return ws.send(JSON.stringify({ op: "ready", user_id: 1 }));
      }
      if (message.op === "subscribe") {
        ws.send(JSON.stringify({ op: "ack", request: "subscribe", channels: message.channels }));
      }
    });
  });
  await page.reload();
  await page.locator('#live-status[data-status="live"]').waitFor();
  await page.waitForLoadState("networkidle"); // the panels' first REST reads are done
  const frame = (channel, data) => feed.send(JSON.stringify({ channel, data }));
  frame("ticks:RELIANCE", {
    v: 1,
    kind: "tick",
    symbol: "RELIANCE",
    ts: new Date().toISOString(),
    price: 2501.35,
    qty: 10,
  });
  const cell = page.locator('#watchlist tr[data-symbol="RELIANCE"] td').nth(1);
  // The simulated feed prices the symbol over REST too: wait for the played tick itself.
  await page.waitForFunction((el) => el.textContent === "2,501.35", await cell.elementHandle());
  step("LIVE_TICK", (await cell.textContent()).trim());
  frame("orders", {
    v: 1,
    kind: "order",
    user_id: 1,
    order_id: 990001,
    client_order_id: "web-e2e",
    symbol: "INFY",
    side: "BUY",
    status: "PARTIALLY_FILLED",
    quantity: "5",
    filled_quantity: "2",
    average_price: "1600.50",
    ts: new Date().toISOString(),
  });
  const order = page.locator('#orders tr[data-order="990001"]');
  await order.waitFor();
  step("LIVE_ORDER", (await order.locator(".status").textContent()).trim());

  // The newest version of an order wins: an event not newer than the held one is dropped.
  const event = (version, status, orderId = 990001) =>
    frame("orders", {
      v: 1,
      kind: "order",
      user_id: 1,
      order_id: orderId,
      version,
      symbol: "INFY",
      side: "BUY",
      status,
      quantity: "5",
      filled_quantity: status === "FILLED" ? "5" : "2",
      ts: new Date().toISOString(),
    });
  event(7, "FILLED");
  await order.locator(".status", { hasText: "FILLED" }).waitFor();
  event(6, "PARTIALLY_FILLED");
  event(7, "OPEN");
  event(1, "OPEN", 990002); // frames are applied in order: once this one shows, so have those
  await page.locator('#orders tr[data-order="990002"]').waitFor();
  step("STALE_ORDER_EVENT_DROPPED", (await order.locator(".status").textContent()).trim());
}

// A persistent context on a fresh profile directory: every run starts with empty storage.
const profileDir = required("PROFILE_DIR");
const context = await chromium.launchPersistentContext(profileDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1440, height: 960 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let code = 0;
try {
  await run(context);
  step("DONE");
} catch (error) {
  console.log(`FAIL ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  code = 1;
} finally {
  await context.close();
}
process.exit(code);
