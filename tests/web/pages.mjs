// Every page of the dashboard and its flows, against a running embedded platform, in headless
// Chromium: layout at 1366x768 and 390x844 (no page scrolls sideways; key columns stay inside
// their card), place / modify / cancel, tradebook, close position, strategy labels and form
// errors, a halt that survives a reload, preferences kept on the server, the dark theme,
// two-factor enrolment and sign-in, the admin's global and per-user halt, liquidation and
// role change, the API docs with no internet, and signing out everywhere.
//
// Environment: BASE_URL, CHROMIUM, ARTIFACTS (a directory for the screenshots),
// ADMIN_EMAIL / ADMIN_PASSWORD (an existing admin).
// Prints one line per step ("STEP detail"); exits 1 with "FAIL ..." on the first step that
// does not hold. Trading uses BTCUSDT (the simulated feed prices it around the clock).
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");
const { chromium } = createRequire(path.join(webDir, "package.json"))(
  "playwright-core",
);

const BASE_URL = required("BASE_URL");
const ARTIFACTS = required("ARTIFACTS");
const ADMIN_EMAIL = required("ADMIN_EMAIL");
const ADMIN_PASSWORD = required("ADMIN_PASSWORD");
const STEP_TIMEOUT = 15_000;
const SIZES = [
  [1366, 768],
  [390, 844],
];
const SYMBOL = "BTCUSDT";

const trader = {
  name: "Ravi Pages",
  email: `pages-${Date.now()}@example.com`,
  password: "correct horse battery",
};

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

/** RFC 6238 code of a base32 secret for the time step `step` (30 s steps). */
function totp(secret, step = Math.floor(Date.now() / 30_000)) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase())
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

async function confirmDialog(page) {
  const ok = page.locator("dialog.confirm button[value=ok]");
  await ok.waitFor();
  await ok.click();
  await ok.waitFor({ state: "detached" });
}

async function signIn(page, email, password, code = "") {
  await page.locator("#sign-in input[name=email]").fill(email);
  await page.locator("#sign-in input[name=password]").fill(password);
  await page.locator("#sign-in input[name=totp_code]").fill(code);
  await page.locator("#sign-in button[type=submit]").click();
}

async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  return page;
}

async function openTab(page, tab) {
  await page.evaluate((t) => {
    location.hash = `#/${t}`;
  }, tab);
  await page.locator(`a[data-tab="${tab}"][aria-selected="true"]`).waitFor();
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(300); // lazy pages and their first reads
}

/**
 * Each page at each size: a screenshot, whether the page scrolls sideways, and whether the
 * cells that matter (status, cancel, unrealised P&L, close) lie inside their card.
 */
async function checkLayout(page, tabs, prefix) {
  const sideways = [];
  const hidden = [];
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    for (const tab of tabs) {
      await openTab(page, tab);
      const overflow = await page.evaluate(
        () =>
          Math.max(
            document.documentElement.scrollWidth,
            document.body.scrollWidth,
          ) - innerWidth,
      );
      if (overflow > 0) sideways.push(`${tab}@${width} by ${overflow}px`);
      const outside = await page.evaluate(() => {
        const key = [
          "#orders .status",
          "#orders button.cancel",
          "#orders button.modify",
          "#positions td.unrealised",
          "#positions button.close-position",
          "#fills td:nth-child(5)",
          "tr[data-subscription] .status",
          "#admin-users button.manage",
          "#user-halts button",
        ];
        const out = [];
        for (const selector of key)
          for (const el of document.querySelectorAll(selector)) {
            const card = el.closest(".card").getBoundingClientRect();
            const box = el.getBoundingClientRect();
            if (box.width === 0) out.push(`${selector} not shown`);
            else if (box.left < card.left - 1 || box.right > card.right + 1)
              out.push(`${selector} outside its card`);
          }
        return [...new Set(out)];
      });
      hidden.push(...outside.map((o) => `${tab}@${width}: ${o}`));
      await page.screenshot({
        path: path.join(ARTIFACTS, `${prefix}${tab}-${width}x${height}.png`),
        fullPage: true,
      });
      step("LAYOUT", `${tab}@${width}x${height} overflow=${overflow}`);
    }
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  step(
    sideways.length ? "SIDEWAYS_SCROLL" : "NO_SIDEWAYS_SCROLL",
    sideways.join("; "),
  );
  step(
    hidden.length ? "KEY_CELLS_CUT" : "KEY_CELLS_IN_CARD",
    hidden.join("; "),
  );
}

async function lastPrice(page) {
  const cell = page.locator(`#watchlist tr[data-symbol="${SYMBOL}"] td`).nth(1);
  await page.waitForFunction(
    (el) => /\d/.test(el.textContent),
    await cell.elementHandle(),
  );
  return Number((await cell.textContent()).replace(/,/g, ""));
}

async function placeOrder(
  page,
  { side = "BUY", quantity, type = "MARKET", limit = "" },
) {
  const ticket = page.locator("#order-ticket");
  await ticket
    .locator(`input[name=side][value=${side}]`)
    .check({ force: true });
  await ticket.locator("input[name=symbol]").fill(SYMBOL);
  await ticket.locator("input[name=quantity]").fill(quantity);
  await ticket.locator("select[name=order_type]").selectOption(type);
  if (limit) await ticket.locator("input[name=limit_price]").fill(limit);
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === "POST" && r.url().endsWith("/orders"),
    ),
    ticket.locator("#place-order").click(),
  ]);
  return response.json();
}

async function openPosition(page) {
  await openTab(page, "trade");
  const order = await placeOrder(page, { quantity: "0.01" });
  const close = page.locator(
    `#positions tr[data-symbol="${SYMBOL}"] button.close-position`,
  );
  await reloadUntil(page, close); // filled at the next tick
  return order;
}

async function reloadUntil(page, locator, state = "visible") {
  for (let i = 0; i < 10; i++) {
    try {
      await locator.waitFor({ state, timeout: 1500 });
      return;
    } catch {
      await page.reload();
      await page.locator("#sign-out").waitFor();
    }
  }
  await locator.waitFor({ state, timeout: 1000 });
}

async function traderFlows(context) {
  const page = await newPage(context);
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  await page.goto(BASE_URL);
  await page.locator("#to-sign-up").click();
  await page.locator("#sign-up input[name=full_name]").fill(trader.name);
  await page.locator("#sign-up input[name=email]").fill(trader.email);
  await page.locator("#sign-up input[name=password]").fill(trader.password);
  const [registered] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/auth/register")),
    page.locator("#sign-up button[type=submit]").click(),
  ]);
  trader.id = (await registered.json()).id;
  await page.locator("#sign-out").waitFor();
  step("SIGNED_UP", trader.email);

  // A USDT paper account for BTCUSDT, and BTCUSDT selected: a preference kept on the server.
  await openTab(page, "accounts");
  await page.locator("#account-form input[name=label]").fill("Pages USDT");
  await page
    .locator("#account-form select[name=currency]")
    .selectOption("USDT");
  await page.locator("#create-account").click();
  await page.locator("#account-list tr", { hasText: "Pages USDT" }).waitFor();
  await openTab(page, "trade");
  await page.locator(`#watchlist tr[data-symbol="${SYMBOL}"]`).click();
  await page
    .locator(`#watchlist tr.selected[data-symbol="${SYMBOL}"]`)
    .waitFor();

  // Place (market, fills), then a limit order to sell above the market (an exit that
  // waits), and modify its price.
  const filled = await openPosition(page);
  step("MARKET_ORDER", `${filled.status}`);
  const market = await lastPrice(page);
  const limit = await placeOrder(page, {
    side: "SELL",
    quantity: "0.01",
    type: "LIMIT",
    limit: (market * 1.03).toFixed(2),
  });
  const row = page.locator(`#orders tr[data-order="${limit.id}"]`);
  await row.locator(".status", { hasText: "OPEN" }).waitFor();
  step("LIMIT_ORDER", limit.status);
  await row.locator("button.modify").click();
  const modify = page.locator(`#modify-${limit.id}`);
  const newPrice = (market * 1.04).toFixed(2);
  await modify.locator("input[name=limit_price]").fill(newPrice);
  const [patched] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "PATCH"),
    modify.locator("button[type=submit]").click(),
  ]);
  await modify.waitFor({ state: "detached" });
  const changed = await patched.json();
  await row
    .locator("td", {
      hasText: `L ${Number(newPrice).toLocaleString("en-IN", { minimumFractionDigits: 2 })}`,
    })
    .waitFor();
  step(
    "MODIFIED",
    Number(changed.limit_price) === Number(newPrice)
      ? "limit price changed"
      : `${changed.limit_price} != ${newPrice}`,
  );

  // Every trader page at both sizes, with a working order and an open position on show.
  await checkLayout(
    page,
    ["trade", "tradebook", "strategies", "accounts", "profile"],
    "",
  );

  await openTab(page, "trade");
  await row.locator("button.cancel").click();
  await row.locator(".status", { hasText: "CANCELLED" }).waitFor();
  step("CANCELLED", (await row.locator(".status").textContent()).trim());

  // Tradebook: the market order's fill.
  await openTab(page, "tradebook");
  const fill = page.locator(`#fills tr[data-order="${filled.id}"]`);
  await fill.waitFor();
  step(
    "TRADEBOOK",
    `${(await fill.locator("td").nth(1).textContent()).trim()} ${(await fill.locator("td").nth(3).textContent()).trim()}`,
  );

  // Close the position (confirmed): the row keeps its realised P&L but has nothing to close.
  await openTab(page, "trade");
  await page
    .locator(`#positions tr[data-symbol="${SYMBOL}"] button.close-position`)
    .click();
  await confirmDialog(page);
  await reloadUntil(
    page,
    page.locator(
      `#positions tr[data-symbol="${SYMBOL}"] button.close-position`,
    ),
    "detached",
  );
  step("POSITION_CLOSED");

  await strategies(page);
  await halt(page);
  await theme(page, context);
  return page;
}

async function strategies(page) {
  await openTab(page, "strategies");
  const card = page.locator('.strategy[data-strategy="ma_crossover"]');
  step("STRATEGY_TITLE", (await card.locator("h3").textContent()).trim());
  await card.locator("button").click();
  const form = page.locator("#subscription-form");
  await form.locator('input[name="params.fast"]').waitFor();
  const labels = await form.locator("fieldset label").allTextContents();
  step(
    "PARAM_LABELS",
    labels.map((l) => l.replace(/\*$/, "").trim()).join(", "),
  );
  step(
    "MODES",
    (await form.locator("select[name=mode] option").allTextContents()).join(
      ",",
    ),
  );
  await form.locator("input[name=symbols]").fill("NOSUCHSYM");
  await form.locator("button[type=submit]").click();
  await form.locator(".error").first().waitFor();
  const errors = await form.locator(".error").allTextContents();
  const mentions = errors.join("\n").split("NOSUCHSYM").length - 1;
  step("UNKNOWN_SYMBOL_SHOWN", String(mentions));
  await form.locator("input[name=symbols]").fill(SYMBOL);
  await form.locator("button[type=submit]").click();
  await page.locator("tr[data-subscription]").first().waitFor();
  step(
    "SUBSCRIBED",
    (
      await page.locator("tr[data-subscription] td").first().textContent()
    ).trim(),
  );
}

async function halt(page) {
  await page.locator("#panic").click();
  await confirmDialog(page);
  await page.locator("#halt-banner").waitFor();
  await page.reload();
  await page.locator('#halt-banner p[data-halt="self"]').waitFor();
  await page.locator("#panic.halted").waitFor();
  step(
    "HALT_SURVIVES_RELOAD",
    (await page.locator("#panic").textContent()).trim(),
  );
  await openTab(page, "strategies");
  const state = page.locator("tr[data-subscription] .status").first();
  await state.filter({ hasText: "halted" }).waitFor();
  step("SUBSCRIPTION_HALTED", (await state.textContent()).trim());
  await page.locator("#resume-trading").click();
  await confirmDialog(page);
  await page.locator("#halt-banner").waitFor({ state: "detached" });
  step("RESUMED", (await page.locator("#panic").textContent()).trim());
}

const background = (page) =>
  page.evaluate(
    () => getComputedStyle(document.documentElement).backgroundColor,
  );

async function theme(page, context) {
  await openTab(page, "profile");
  await page.emulateMedia({ colorScheme: "dark" });
  step("SYSTEM_DARK", await background(page));
  await page.emulateMedia({ colorScheme: "light" });
  step("SYSTEM_LIGHT", await background(page));
  await page.locator("input[name=theme][value=dark]").click();
  await page.waitForFunction(
    () => document.documentElement.dataset.theme === "dark",
  );
  await page.waitForLoadState("networkidle");
  step("THEME_DARK", await background(page));
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    await openTab(page, "trade");
    await page.screenshot({
      path: path.join(ARTIFACTS, `dark-trade-${width}x${height}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  const keys = await page.evaluate(() => Object.keys(localStorage).join(","));
  step("LOCAL_STORAGE_KEYS", keys || "none");

  // Another browser (fresh storage): the theme and the symbol follow the user.
  const other = await context
    .browser()
    .newContext({ viewport: { width: 1366, height: 768 } });
  const elsewhere = await newPage(other);
  await elsewhere.goto(BASE_URL);
  await signIn(elsewhere, trader.email, trader.password);
  await elsewhere.locator("#sign-out").waitFor();
  await elsewhere.waitForFunction(
    () => document.documentElement.dataset.theme === "dark",
  );
  const symbol = elsewhere.locator("#watchlist tr.selected");
  await symbol.waitFor();
  const savedSymbol = await symbol.getAttribute("data-symbol");
  step("PREFERENCES_FOLLOW_USER", `dark ${savedSymbol}`);
  const savedWatchlist = await elsewhere
    .locator("#watchlist tbody tr")
    .evaluateAll((rows) => rows.map((r) => r.dataset.symbol).join(","));
  await other.close();

  // A symbol chosen before the preferences have arrived sticks, and the saved watchlist
  // and theme are kept (the preferences are held back 2 s; the rows shown meanwhile are
  // the defaults).
  const slow = await context
    .browser()
    .newContext({ viewport: { width: 1366, height: 768 } });
  await slow.route("**/users/me/preferences", async (route) => {
    if (route.request().method() === "GET")
      await new Promise((resolve) => setTimeout(resolve, 2000));
    await route.continue();
  });
  const early = await newPage(slow);
  await early.goto(BASE_URL);
  await signIn(early, trader.email, trader.password);
  const chosen = savedSymbol === "TCS" ? "INFY" : "TCS";
  await early.locator(`#watchlist tr[data-symbol="${chosen}"]`).click();
  await early.waitForTimeout(3000); // the held-back answer has arrived
  await early
    .locator(`#watchlist tr.selected[data-symbol="${chosen}"]`)
    .waitFor();
  await early.reload();
  await early
    .locator(`#watchlist tr.selected[data-symbol="${chosen}"]`)
    .waitFor();
  await early.waitForFunction(
    () => document.documentElement.dataset.theme === "dark",
  );
  const keptWatchlist = await early
    .locator("#watchlist tbody tr")
    .evaluateAll((rows) => rows.map((r) => r.dataset.symbol).join(","));
  if (keptWatchlist !== savedWatchlist)
    throw new Error(`watchlist ${keptWatchlist}, saved ${savedWatchlist}`);
  step("EARLY_CHOICE_KEPT", `${chosen} ${keptWatchlist}`);
  await slow.close();

  // The layout: compact, without the watchlist; read back from the server after a reload.
  await openTab(page, "profile");
  await page.locator("input[name=density][value=compact]").click();
  await page.waitForLoadState("networkidle"); // one save at a time: the last one wins
  await page.locator("input[name=panel-watchlist]").uncheck();
  await page.waitForFunction(
    () => document.documentElement.dataset.density === "compact",
  );
  await page.waitForLoadState("networkidle");
  await page.reload();
  await page.locator("#sign-out").waitFor();
  await openTab(page, "trade");
  await page.locator('#trade[data-hide="watchlist"]').waitFor();
  await page.screenshot({
    path: path.join(ARTIFACTS, "compact-trade-1366x768.png"),
  });
  step(
    "LAYOUT_KEPT",
    `${await page.evaluate(() => document.documentElement.dataset.density)} ${await page.locator("#watchlist").count()}`,
  );
  await openTab(page, "profile");
  await page.locator("input[name=density][value=comfortable]").click();
  await page.waitForLoadState("networkidle");
  await page.locator("input[name=panel-watchlist]").check();
  await page.waitForLoadState("networkidle");
}

async function twoFactor(page) {
  await openTab(page, "profile");
  await page.locator("#totp-start").click();
  const qr = page.locator("#totp-qr");
  await qr.waitFor();
  const drawn = await qr.evaluate(
    (img) => img.complete && img.naturalWidth > 0,
  );
  const secret = (await page.locator("#totp-secret").textContent()).trim();
  step("TOTP_QR", drawn ? "drawn" : "blank");
  await page.locator("#totp-enable input[name=code]").fill(totp(secret));
  await page.locator("#totp-enable button[type=submit]").click();
  await page.locator('#two-factor[data-enabled="true"]').waitFor();
  step("TOTP_ENABLED");
  // The recovery codes, shown this once.
  const codes = await page.locator("#recovery-codes li code").allTextContents();
  step("RECOVERY_CODES_SHOWN", String(codes.length));
  await page.setViewportSize({ width: SIZES[1][0], height: SIZES[1][1] });
  await page.locator("#recovery-codes").scrollIntoViewIfNeeded();
  await page.screenshot({
    path: path.join(ARTIFACTS, "recovery-codes-390x844.png"),
  });
  const overflow = await page.evaluate(
    () =>
      Math.max(
        document.documentElement.scrollWidth,
        document.body.scrollWidth,
      ) - innerWidth,
  );
  step("RECOVERY_CODES_LAYOUT", `overflow=${overflow}`);
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  await page.locator("#recovery-saved").click();
  await page.locator("#recovery-codes").waitFor({ state: "detached" });
  await page.locator('#recovery-remaining[data-remaining="10"]').waitFor();
  await page.locator("#sign-out").click();
  await page.locator("#sign-in").waitFor();
  await signIn(page, trader.email, trader.password);
  const error = page.locator("#sign-in .error");
  await error.waitFor();
  step("TOTP_REQUIRED", (await error.textContent()).trim());
  // The enrolment spent this step's code; the next step's is within the allowed drift.
  await signIn(
    page,
    trader.email,
    trader.password,
    totp(secret, Math.floor(Date.now() / 30_000) + 1),
  );
  await page.locator("#sign-out").waitFor();
  step("TOTP_SIGNED_IN");
  // Lost the authenticator: a recovery code signs in once.
  await page.locator("#sign-out").click();
  await page.locator("#sign-in").waitFor();
  await signIn(page, trader.email, trader.password, codes[0]);
  await page.locator("#sign-out").waitFor();
  await openTab(page, "profile");
  const left = page.locator(
    "#recovery-remaining[data-remaining]:not([data-remaining=''])",
  );
  await left.waitFor();
  step("RECOVERY_SIGNED_IN", await left.getAttribute("data-remaining"));
}

async function adminFlows(context, traderPage) {
  const admin = await newPage(context);
  await admin.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
  await admin.goto(BASE_URL);
  await signIn(admin, ADMIN_EMAIL, ADMIN_PASSWORD);
  await admin.locator("#sign-out").waitFor();
  await openTab(admin, "admin");
  step(
    "GLOBAL_STATE",
    (await admin.locator("#global-state").textContent()).trim(),
  );

  // No reload: the admin page follows a trader's own halt and resume (`admin:trading`).
  const haltRow = admin.locator(`#user-halts tr[data-user="${trader.id}"]`);
  await traderPage.locator("#panic").click();
  await confirmDialog(traderPage);
  await haltRow.waitFor();
  step(
    "ADMIN_SEES_USER_HALT_LIVE",
    `${(await haltRow.locator("td").nth(3).textContent()).trim()}`,
  );
  await traderPage.locator("#resume-trading").click();
  await confirmDialog(traderPage);
  await haltRow.waitFor({ state: "detached" });
  step("ADMIN_SEES_USER_RESUME_LIVE");

  // The global halt: readable state, the reason field empty again, traders see it.
  await admin
    .locator("#global-halt input[name=reason]")
    .fill("e2e maintenance");
  await admin.locator("#global-halt button[type=submit]").click();
  await confirmDialog(admin);
  await admin.locator('#global-state[data-halted="true"]').waitFor();
  step(
    "GLOBAL_HALTED",
    (await admin.locator("#global-state").textContent()).trim(),
  );
  step(
    "REASON_CLEARED",
    JSON.stringify(
      await admin.locator("#global-halt input[name=reason]").inputValue(),
    ),
  );
  // No reload: the trader's dashboard follows the halt from its `trading` channel.
  const global = traderPage.locator('#halt-banner p[data-halt="global"]');
  await global.waitFor();
  step("TRADER_SEES_GLOBAL_HALT", (await global.textContent()).trim());
  step("HALT_SEEN_WITHOUT_RELOAD", "global");
  await admin.locator("#global-halt button.secondary").click();
  await confirmDialog(admin);
  await admin.locator('#global-state[data-halted="false"]').waitFor();

  // Per user: liquidation, halt, role change, each confirmed, each in their audit trail.
  await openPosition(traderPage);
  await admin.locator("#admin-users input[name=q]").fill(trader.email);
  await admin.locator("#admin-users button[type=submit]").click();
  const user = admin.locator("#admin-users tr", { hasText: trader.email });
  await user.locator("button.manage").click();
  const panel = admin.locator("#admin-user");
  await panel.waitFor();
  await panel.locator("#liquidate-user").click();
  await confirmDialog(admin);
  await reloadUntil(
    traderPage,
    traderPage.locator(
      `#positions tr[data-symbol="${SYMBOL}"] button.close-position`,
    ),
    "detached",
  );
  step("LIQUIDATED");

  await panel.locator("#user-halt input[name=reason]").fill("risk review");
  await panel.locator("#user-halt button[type=submit]").click();
  await confirmDialog(admin);
  await panel.locator("#user-halt-state", { hasText: "HALTED" }).waitFor();
  await admin
    .waitForFunction(
      () =>
        document.querySelector("#user-halt input[name=reason]").value === "",
      null,
      { timeout: 3000 },
    )
    .catch(() => undefined);
  step(
    "USER_HALT_REASON_CLEARED",
    JSON.stringify(
      await panel.locator("#user-halt input[name=reason]").inputValue(),
    ),
  );
  const byAdmin = traderPage.locator('#halt-banner p[data-halt="admin"]');
  await byAdmin.waitFor();
  step("HALT_SEEN_WITHOUT_RELOAD", "admin");
  step(
    "TRADER_SEES_ADMIN_HALT",
    `${(await byAdmin.textContent()).trim()} | resume ${(await traderPage.locator("#resume-trading").isVisible()) ? "offered" : "not offered"}`,
  );

  // The admin page at both sizes, with a halted user and the user panel open.
  await checkLayout(admin, ["admin"], "admin-");

  await panel.locator("#user-halt button.secondary").click();
  await confirmDialog(admin);
  await panel.locator("#user-halt-state", { hasText: "TRADING" }).waitFor();
  await panel.locator("#user-role select[name=role]").selectOption("admin");
  await panel.locator("#user-role button[type=submit]").click();
  await confirmDialog(admin);
  await admin.locator("#admin-user .muted", { hasText: "· admin" }).waitFor();
  step("ROLE_CHANGED", "admin");
  await panel.locator("#user-role select[name=role]").selectOption("trader");
  await panel.locator("#user-role button[type=submit]").click();
  await confirmDialog(admin);
  await admin.locator("#admin-user .muted", { hasText: "· trader" }).waitFor();
  // Their data: accounts, orders (the liquidation's among them), positions, audit.
  const view = panel.locator("#admin-user-data");
  await view.locator('button[data-view="broker-accounts"]').click();
  await view
    .locator("#user-broker-accounts tbody tr", { hasText: "Pages USDT" })
    .waitFor();
  await view.locator('button[data-view="orders"]').click();
  await view.locator("#user-orders tbody tr[data-status]").first().waitFor();
  const orders = await view
    .locator("#user-orders tbody tr[data-status]")
    .count();
  await view.locator('button[data-view="positions"]').click();
  await view.locator("#user-positions").waitFor();
  step("USER_VIEW", `accounts 1, orders ${orders}`);
  await view.locator('button[data-view="audit"]').click();
  await view.locator("#user-audit tr[data-action]").first().waitFor();
  const actions = await panel
    .locator("#user-audit tr[data-action]")
    .evaluateAll((rows) => [
      ...new Set(rows.map((r) => r.getAttribute("data-action"))),
    ]);
  step("USER_AUDIT", actions.sort().join(","));
  return admin;
}

async function docsOffline(context) {
  const page = await newPage(context);
  const outside = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(BASE_URL) || url.startsWith("data:"))
      return route.continue();
    outside.push(url);
    return route.abort();
  });
  await page.goto(`${BASE_URL}/api/v1/docs`);
  await page.locator(".opblock").first().waitFor();
  step("DOCS_SWAGGER", String(await page.locator(".opblock").count()));
  await page.goto(`${BASE_URL}/api/v1/redoc`);
  // ReDoc renders the whole schema before its first heading: seconds on a busy machine.
  await page
    .locator("h1", { hasText: "algotrade" })
    .first()
    .waitFor({ timeout: 60_000 });
  step("DOCS_REDOC", (await page.locator("h1").first().textContent()).trim());
  await page.screenshot({ path: path.join(ARTIFACTS, "api-docs-redoc.png") });
  step("DOCS_OUTSIDE_REQUESTS", outside.length ? outside.join(" ") : "none");
  await page.close();
}

async function signOutEverywhere(page) {
  await openTab(page, "profile");
  await page.locator("#session-list tbody tr").first().waitFor();
  step(
    "SESSIONS",
    String(await page.locator("#session-list tbody tr").count()),
  );
  await page.locator("#sign-out-everywhere").click();
  await confirmDialog(page);
  await page.locator("#sign-in .notice").waitFor();
  step(
    "SIGNED_OUT_EVERYWHERE",
    (await page.locator("#sign-in .notice").textContent()).trim(),
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
  const traderContext = await browser.newContext({
    viewport: { width: 1366, height: 768 },
  });
  const adminContext = await browser.newContext({
    viewport: { width: 1366, height: 768 },
  });
  const traderPage = await traderFlows(traderContext);
  await adminFlows(adminContext, traderPage);
  await docsOffline(adminContext);
  await twoFactor(traderPage);
  await signOutEverywhere(traderPage);
  if (pageErrors.length)
    throw new Error(`uncaught page errors: ${pageErrors.join(" | ")}`);
  step("NO_PAGE_ERRORS");
  step("DONE");
} catch (error) {
  console.log(
    `FAIL ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
  );
  code = 1;
  // What each page showed when the step failed.
  let n = 0;
  for (const context of browser.contexts())
    for (const page of context.pages())
      await page
        .screenshot({
          path: path.join(ARTIFACTS, `failure-${++n}.png`),
          fullPage: true,
        })
        .catch(() => undefined);
} finally {
  await browser.close();
}
process.exit(code);
