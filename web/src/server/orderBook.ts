/** The order list as the cache holds it, and the one rule for merging a newer state in. */
import type { Order } from "../types";

export const ORDERS_LIMIT = 100;

export function orderId(order: Partial<Order>): number | undefined {
  return order.id ?? order.order_id;
}

/**
 * Lay an update (an order event, or an order a cancel answered with) over the list.
 * An update whose version is not newer than the held one is an older state (a late event,
 * or a response read before a newer event) and is dropped.
 */
export function mergeOrder(orders: Order[], update: Partial<Order>): Order[] {
  const id = orderId(update);
  if (id === undefined) return orders;
  const index = orders.findIndex((o) => orderId(o) === id);
  const held = index < 0 ? undefined : orders[index];
  if (held?.version !== undefined && update.version !== undefined && update.version <= held.version)
    return orders;
  const merged = { ...held, ...withoutUndefined(update), id } as Order;
  if (index < 0) return [...orders, merged];
  const next = [...orders];
  next[index] = merged;
  return next;
}

/** Newest first (by creation time, then id), at most `ORDERS_LIMIT`. */
export function newestFirst(orders: Order[]): Order[] {
  return [...orders]
    .sort(
      (a, b) =>
        String(b.created_at ?? b.ts ?? "").localeCompare(String(a.created_at ?? a.ts ?? "")) ||
        (orderId(b) ?? 0) - (orderId(a) ?? 0),
    )
    .slice(0, ORDERS_LIMIT);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
