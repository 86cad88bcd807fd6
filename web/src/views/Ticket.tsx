/** The manual order ticket: POST /orders with a client order id kept until the answer is known. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api";
import { useClients, useSelection } from "../context";
import { keys } from "../server/keys";
import { mergeOrder } from "../server/orderBook";
import { useAccounts, useInstrument } from "../server/queries";
import type { Order } from "../types";
import { ErrorBox, invalid } from "../ui/errors";
import { useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";
import { ClosedNote } from "../ui/MarketState";

const ORDER_TYPES = ["MARKET", "LIMIT", "SL", "SL-M"];
const NEEDS_LIMIT = new Set(["LIMIT", "SL"]);
const NEEDS_TRIGGER = new Set(["SL", "SL-M"]);
const SETTLE_MS = 1200;

export function Ticket() {
  const { api } = useClients();
  const { accountId, symbol: selected } = useSelection();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [symbol, setSymbol] = useState(selected);
  const [described, setDescribed] = useState(selected);
  const [side, setSide] = useState<"BUY" | "SELL">("BUY");
  const [quantity, setQuantity] = useState("1");
  const [orderType, setOrderType] = useState("MARKET");
  const [limitPrice, setLimitPrice] = useState("");
  const [triggerPrice, setTriggerPrice] = useState("");
  const [product, setProduct] = useState("MIS");
  const [validity, setValidity] = useState("DAY");
  const instrument = useInstrument(described).data;
  const account = useAccounts().data?.find((a) => a.id === accountId);
  // The same id is re-sent until a definite answer, so a retry after a lost response or
  // a server error cannot place the order twice; an order or a 4xx refusal starts a new one.
  const clientOrderId = useRef(newClientOrderId());

  useEffect(() => {
    setSymbol(selected);
    setDescribed(selected);
  }, [selected]);

  const needsLimit = NEEDS_LIMIT.has(orderType);
  const needsTrigger = NEEDS_TRIGGER.has(orderType);

  const place = useMutation({
    mutationFn: async () => {
      if (accountId === null)
        throw new Error("Create or select a broker account first (Broker accounts tab).");
      const body: Record<string, unknown> = {
        broker_account_id: accountId,
        symbol: symbol.trim().toUpperCase(),
        side,
        quantity: quantity.trim(),
        order_type: orderType,
        product,
        validity,
        client_order_id: clientOrderId.current,
      };
      if (needsLimit && limitPrice) body.limit_price = limitPrice;
      if (needsTrigger && triggerPrice) body.trigger_price = triggerPrice;
      try {
        const order = await api.post<Order>("/orders", body);
        clientOrderId.current = newClientOrderId();
        return order;
      } catch (error) {
        if (error instanceof ApiError && error.status >= 400 && error.status < 500)
          clientOrderId.current = newClientOrderId();
        if (error instanceof ApiError && error.routeMissing)
          throw new Error("Order placement: not available yet.");
        throw error;
      }
    },
    onSuccess: (order) => {
      queryClient.setQueryData<Order[]>(keys.orders, (held) =>
        held ? mergeOrder(held, order) : held,
      );
      // Positions and the account follow from live events; read them again once the fill of
      // a market order has had time to land, in case the feed is down.
      window.setTimeout(() => {
        void queryClient.invalidateQueries({ queryKey: keys.positions });
        void queryClient.invalidateQueries({ queryKey: ["account-summary"] });
      }, SETTLE_MS);
      const id = order.id ?? order.order_id;
      const reason = order.reason ? ` (${order.reason})` : "";
      toast(
        `Order ${id ?? ""} ${order.side} ${order.symbol}: ${order.status}${reason}`,
        order.status === "DENIED" || order.status === "REJECTED" ? "error" : "ok",
      );
    },
  });
  const order = place.data;
  const denied =
    order?.status === "DENIED"
      ? new Error(
          `Denied by risk checks: ${order.reason ?? order.reason_code ?? "no reason given"}`,
        )
      : null;
  const instrumentShown = instrument?.symbol === described ? instrument : undefined;
  const error = place.error;

  return (
    <section className="card ticket-card">
      <h2>Order ticket</h2>
      <form
        id="order-ticket"
        className="ticket"
        data-side={side}
        onSubmit={(event) => {
          event.preventDefault();
          place.mutate();
        }}
      >
        <div className="side-toggle" role="radiogroup" aria-label="Side">
          <label className="buy">
            <input
              type="radio"
              name="side"
              value="BUY"
              checked={side === "BUY"}
              onChange={() => setSide("BUY")}
            />
            Buy
          </label>
          <label className="sell">
            <input
              type="radio"
              name="side"
              value="SELL"
              checked={side === "SELL"}
              onChange={() => setSide("SELL")}
            />
            Sell
          </label>
        </div>
        <div className="row2">
          <Field label="Symbol">
            <input
              name="symbol"
              required
              autoComplete="off"
              value={symbol}
              onChange={(event) => setSymbol(event.target.value)}
              onBlur={() => setDescribed(symbol.trim().toUpperCase())}
              {...invalid(error, "symbol")}
            />
          </Field>
          <Field label="Quantity">
            <input
              name="quantity"
              type="number"
              min="0"
              step={instrumentShown ? String(instrumentShown.lot_size) : "any"}
              required
              value={quantity}
              onChange={(event) => setQuantity(event.target.value)}
              {...invalid(error, "quantity")}
            />
          </Field>
        </div>
        <small className="muted">
          {instrumentShown
            ? `${instrumentShown.name} · ${instrumentShown.exchange} · lot ${instrumentShown.lot_size} · tick ${instrumentShown.tick_size} ${instrumentShown.currency}`
            : ""}
        </small>
        <ClosedNote exchange={instrumentShown?.exchange} />
        <div className="row2">
          <Field label="Type">
            <Select
              name="order_type"
              options={ORDER_TYPES}
              value={orderType}
              onChange={(event) => {
                const next = event.target.value;
                setOrderType(next);
                if (!NEEDS_LIMIT.has(next)) setLimitPrice("");
                if (!NEEDS_TRIGGER.has(next)) setTriggerPrice("");
              }}
            />
          </Field>
          <Field label="Product" hint="MIS intraday, CNC delivery">
            <Select
              name="product"
              options={["MIS", "CNC"]}
              value={product}
              onChange={(event) => setProduct(event.target.value)}
            />
          </Field>
        </div>
        <div className="row2">
          <Field label="Limit price">
            <input
              name="limit_price"
              type="number"
              min="0"
              step={instrumentShown ? String(instrumentShown.tick_size) : "any"}
              disabled={!needsLimit}
              value={limitPrice}
              onChange={(event) => setLimitPrice(event.target.value)}
              {...invalid(error, "limit_price")}
            />
          </Field>
          <Field label="Trigger price">
            <input
              name="trigger_price"
              type="number"
              min="0"
              step={instrumentShown ? String(instrumentShown.tick_size) : "any"}
              disabled={!needsTrigger}
              value={triggerPrice}
              onChange={(event) => setTriggerPrice(event.target.value)}
              {...invalid(error, "trigger_price")}
            />
          </Field>
        </div>
        <Field label="Validity">
          <Select
            name="validity"
            options={["DAY", "IOC"]}
            value={validity}
            onChange={(event) => setValidity(event.target.value)}
          />
        </Field>
        <small className="muted" id="ticket-account">
          {account
            ? `Account ${account.label} · ${account.currency}${
                instrumentShown && instrumentShown.currency !== account.currency
                  ? ` · ${described} is quoted in ${instrumentShown.currency}: trade it from a ${instrumentShown.currency} account`
                  : ""
              }`
            : "No broker account selected"}
        </small>
        <ErrorBox error={error ?? denied} />
        <div className="actions">
          <button type="submit" className="primary" id="place-order" disabled={place.isPending}>
            {side === "SELL" ? "Place sell order" : "Place buy order"}
          </button>
        </div>
      </form>
    </section>
  );
}

/** 20 random hex digits; crypto.randomUUID needs a secure context, getRandomValues does not. */
function newClientOrderId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
