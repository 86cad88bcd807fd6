/** The manual order ticket: POST /orders with a client order id kept until the answer is known. */
import { ApiError } from "../api";
import { ErrorBox, busy, field, h, select, toast } from "../dom";
import type { AppContext, View } from "../state";
import type { Instrument, Order } from "../types";

const ORDER_TYPES = ["MARKET", "LIMIT", "SL", "SL-M"];
const NEEDS_LIMIT = new Set(["LIMIT", "SL"]);
const NEEDS_TRIGGER = new Set(["SL", "SL-M"]);

export function ticketView(app: AppContext): View {
  const symbol = h("input", {
    name: "symbol",
    required: true,
    autocomplete: "off",
    value: app.symbol.value,
  });
  const sideBuy = h("input", { type: "radio", name: "side", value: "BUY", checked: true });
  const sideSell = h("input", { type: "radio", name: "side", value: "SELL" });
  const quantity = h("input", {
    name: "quantity",
    type: "number",
    min: "0",
    step: "any",
    required: true,
    value: "1",
  });
  const orderType = select("order_type", ORDER_TYPES, "MARKET");
  const limitPrice = h("input", { name: "limit_price", type: "number", min: "0", step: "any" });
  const triggerPrice = h("input", { name: "trigger_price", type: "number", min: "0", step: "any" });
  const product = select("product", ["MIS", "CNC"], "MIS");
  const validity = select("validity", ["DAY", "IOC"], "DAY");
  const hint = h("small", { class: "muted" });
  const accountNote = h("small", { class: "muted", id: "ticket-account" });
  const submit = h(
    "button",
    { type: "submit", class: "primary", id: "place-order" },
    "Place order",
  );

  const form = h(
    "form",
    { id: "order-ticket", class: "ticket" },
    h(
      "div",
      { class: "side-toggle", role: "radiogroup", "aria-label": "Side" },
      h("label", { class: "buy" }, sideBuy, "Buy"),
      h("label", { class: "sell" }, sideSell, "Sell"),
    ),
    h("div", { class: "row2" }, field("Symbol", symbol), field("Quantity", quantity)),
    hint,
    h(
      "div",
      { class: "row2" },
      field("Type", orderType),
      field("Product", product, "MIS intraday, CNC delivery"),
    ),
    h(
      "div",
      { class: "row2" },
      field("Limit price", limitPrice),
      field("Trigger price", triggerPrice),
    ),
    field("Validity", validity),
    accountNote,
  );
  const errors = new ErrorBox(form);
  form.append(errors.el, h("div", { class: "actions" }, submit));

  const syncPrices = (): void => {
    limitPrice.disabled = !NEEDS_LIMIT.has(orderType.value);
    triggerPrice.disabled = !NEEDS_TRIGGER.has(orderType.value);
    if (limitPrice.disabled) limitPrice.value = "";
    if (triggerPrice.disabled) triggerPrice.value = "";
  };
  const syncSide = (): void => {
    form.dataset.side = sideSell.checked ? "SELL" : "BUY";
    submit.textContent = sideSell.checked ? "Place sell order" : "Place buy order";
  };
  orderType.addEventListener("change", syncPrices);
  sideBuy.addEventListener("change", syncSide);
  sideSell.addEventListener("change", syncSide);
  syncPrices();
  syncSide();

  let instrumentFor = "";
  let quotedIn = ""; // the currency of the described instrument
  // The account's currency, and a warning when the symbol is quoted in another one.
  const syncAccount = (): void => {
    const a = app.accounts.value?.find((x) => x.id === app.accountId.value);
    if (!a) {
      accountNote.textContent = "No broker account selected";
      return;
    }
    const clash =
      quotedIn && quotedIn !== a.currency
        ? ` · ${instrumentFor} is quoted in ${quotedIn}: trade it from a ${quotedIn} account`
        : "";
    accountNote.textContent = `Account ${a.label} · ${a.currency}${clash}`;
  };
  const describeInstrument = async (name: string): Promise<void> => {
    if (!name || name === instrumentFor) return;
    instrumentFor = name;
    try {
      const i = await app.api.get<Instrument>(`/instruments/${encodeURIComponent(name)}`);
      if (instrumentFor !== name) return;
      hint.textContent = `${i.name} · ${i.exchange} · lot ${i.lot_size} · tick ${i.tick_size} ${i.currency}`;
      quotedIn = i.currency;
      syncAccount();
      quantity.step = String(i.lot_size);
      limitPrice.step = triggerPrice.step = String(i.tick_size);
    } catch {
      if (instrumentFor === name) {
        hint.textContent = "";
        quotedIn = "";
        syncAccount();
      }
    }
  };
  symbol.addEventListener(
    "change",
    () => void describeInstrument(symbol.value.trim().toUpperCase()),
  );
  const unsymbol = app.symbol.subscribe((name) => {
    symbol.value = name;
    void describeInstrument(name);
  });

  // The same id is re-sent until a definite answer, so a retry after a lost response or
  // a server error cannot place the order twice; an order or a 4xx refusal starts a new one.
  let clientOrderId = newClientOrderId();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const accountId = app.accountId.value;
    if (accountId === null) {
      errors.show(new Error("Create or select a broker account first (Broker accounts tab)."));
      return;
    }
    const body: Record<string, unknown> = {
      broker_account_id: accountId,
      symbol: symbol.value.trim().toUpperCase(),
      side: sideSell.checked ? "SELL" : "BUY",
      quantity: quantity.value.trim(),
      order_type: orderType.value,
      product: product.value,
      validity: validity.value,
      client_order_id: clientOrderId,
    };
    if (!limitPrice.disabled && limitPrice.value) body.limit_price = limitPrice.value;
    if (!triggerPrice.disabled && triggerPrice.value) body.trigger_price = triggerPrice.value;
    void busy(submit, errors, async () => {
      try {
        const order = await app.api.post<Order>("/orders", body);
        clientOrderId = newClientOrderId();
        const id = order.id ?? order.order_id;
        const reason = order.reason ? ` (${order.reason})` : "";
        toast(
          `Order ${id ?? ""} ${order.side} ${order.symbol}: ${order.status}${reason}`,
          order.status === "DENIED" || order.status === "REJECTED" ? "error" : "ok",
        );
        if (order.status === "DENIED")
          errors.show(
            new Error(
              `Denied by risk checks: ${order.reason ?? order.reason_code ?? "no reason given"}`,
            ),
          );
      } catch (error) {
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          clientOrderId = newClientOrderId();
        }
        if (error instanceof ApiError && error.routeMissing)
          throw new Error("Order placement: not available yet.");
        throw error;
      }
    });
  });

  const stops = [
    unsymbol,
    app.accounts.subscribe(syncAccount),
    app.accountId.subscribe(syncAccount),
  ];
  const el = h("section", { class: "card ticket-card" }, h("h2", { text: "Order ticket" }), form);
  return { el, dispose: () => stops.forEach((stop) => stop()) };
}

/** 20 random hex digits; crypto.randomUUID needs a secure context, getRandomValues does not. */
function newClientOrderId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
