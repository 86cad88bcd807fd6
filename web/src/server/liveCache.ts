/**
 * The bridge from the live feed to the query cache, mounted once per signed-in session:
 * private channels update the cached lists in place, and after a reconnect (frames may
 * have been missed) every cached read is invalidated so the views read it again.
 * Market data (ticks, candles) is subscribed by the panels that show it.
 */
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { useClients, useSelection } from "../context";
import type { AccountSummary, Order, Position, Quote, Signal, TickFrame } from "../types";
import type { AlertStats } from "./alerts";
import { keys } from "./keys";
import { mergeOrder } from "./orderBook";
import { addSignal } from "./queries";

/** Position events come only with fills; a burst of them is one re-read. */
const POSITIONS_DEBOUNCE_MS = 300;

export function useLiveCache(): void {
  const { live, replay } = useClients();
  const { accountId } = useSelection();
  const queryClient = useQueryClient();
  const selected = useRef(accountId);
  useEffect(() => {
    selected.current = accountId;
  }, [accountId]);

  useEffect(() => {
    let positionsTimer: number | undefined;
    let fillsTimer: number | undefined;
    let alertsTimer: number | undefined;
    const stops = [
      live.on("orders", (data) => {
        // Order events carry the whole order and its version.
        const event = data as Order;
        const update = { ...event, id: event.order_id ?? event.id };
        replay.orders.note(update);
        queryClient.setQueryData<Order[]>(keys.orders, (held) => mergeOrder(held ?? [], update));
        // A fill is a new line in the tradebook: read it again (a burst once).
        if (Number(event.filled_quantity ?? 0) > 0) {
          window.clearTimeout(fillsTimer);
          fillsTimer = window.setTimeout(() => {
            void queryClient.invalidateQueries({ queryKey: keys.fills });
            void queryClient.invalidateQueries({ queryKey: keys.analytics }); // Performance
          }, POSITIONS_DEBOUNCE_MS);
        }
      }),
      live.on("account", (data) => {
        const frame = data as AccountSummary;
        const id = frame.broker_account_id ?? frame.account_id ?? selected.current;
        if (id === null || id === undefined) return;
        replay.summary.note(frame);
        queryClient.setQueryData<AccountSummary>(keys.summary(id), (held) =>
          held && !olderThan(frame, held)
            ? { ...held, ...frame, as_of: frame.ts ?? held.as_of }
            : held,
        );
      }),
      // A position event names no product, and positions are kept per (symbol, product):
      // the book is read again.
      live.on("positions", (data) => {
        const event = data as Position;
        window.clearTimeout(positionsTimer);
        positionsTimer = window.setTimeout(() => {
          void queryClient.invalidateQueries({
            queryKey:
              event.broker_account_id === undefined
                ? keys.positions
                : keys.positionsOf(event.broker_account_id),
          });
        }, POSITIONS_DEBOUNCE_MS);
      }),
      live.on("signals", (data) => {
        const signal = data as Signal;
        replay.signals.note(signal);
        queryClient.setQueryData<Signal[]>(keys.signals, (held) =>
          held ? addSignal(held, signal) : held,
        );
      }),
      // A halt, resume or liquidation of this user (or everyone): the halted state is read
      // again at once, and the orders the halt cancelled.
      live.on("trading", () => {
        void queryClient.invalidateQueries({ queryKey: keys.myTradingStatus });
        void queryClient.invalidateQueries({ queryKey: keys.tradingStatus });
        void queryClient.invalidateQueries({ queryKey: keys.orders });
      }),
      // A new alert: the bell counts it at once; the history (and the price alerts, whose
      // trigger counts moved) are read again, a burst once.
      live.on("alerts", (data) => {
        const alert = data as { alert_kind?: string; severity?: string };
        queryClient.setQueryData<AlertStats>(keys.alertStats, (held) =>
          held ? { ...held, unread: held.unread + 1, total: held.total + 1 } : held,
        );
        window.clearTimeout(alertsTimer);
        alertsTimer = window.setTimeout(() => {
          void queryClient.invalidateQueries({ queryKey: keys.alerts });
          if (alert.alert_kind === "price_alert")
            void queryClient.invalidateQueries({ queryKey: keys.priceAlerts });
        }, POSITIONS_DEBOUNCE_MS);
      }),
      live.onResync(() => void resync(queryClient)),
    ];
    return () => {
      window.clearTimeout(positionsTimer);
      window.clearTimeout(fillsTimer);
      window.clearTimeout(alertsTimer);
      stops.forEach((stop) => stop());
    };
  }, [live, replay, queryClient]);
}

/** An account frame taken before the figures held (frames and reads may cross). */
function olderThan(frame: AccountSummary, held: AccountSummary): boolean {
  const at = (value: unknown) => (typeof value === "string" ? Date.parse(value) : NaN);
  const frameAt = at(frame.ts ?? frame.as_of);
  const heldAt = at(held.as_of ?? held.ts);
  return Number.isFinite(frameAt) && Number.isFinite(heldAt) && frameAt < heldAt;
}

/** A tick is the symbol's newest price in every cached quote list (quotes are a nicety). */
export function applyTick(queryClient: QueryClient, tick: TickFrame): void {
  const quote: Quote = { symbol: tick.symbol, price: tick.price, ts: tick.ts };
  queryClient.setQueriesData<Quote[]>({ queryKey: keys.quotes }, (quotes = []) =>
    quotes.some((q) => q.symbol === tick.symbol)
      ? quotes.map((q) => (q.symbol === tick.symbol ? quote : q))
      : [...quotes, quote],
  );
}

function resync(queryClient: QueryClient): Promise<void> {
  return queryClient.invalidateQueries({ predicate: (query) => query.queryKey[0] !== keys.me[0] });
}
