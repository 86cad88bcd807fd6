/** The order book of the selected account: GET /orders, live status from `orders`, cancel. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients, useSelection } from "../context";
import { money, qty, time } from "../format";
import { keys } from "../server/keys";
import { mergeOrder, newestFirst, orderId } from "../server/orderBook";
import { useOrders } from "../server/queries";
import type { Order } from "../types";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Select } from "../ui/fields";

// PENDING is still being decided (409 order_pending) and PENDING_CANCEL is under way.
const CANCELLABLE = new Set(["SUBMITTED", "UNKNOWN", "OPEN", "PARTIALLY_FILLED", "PENDING_UPDATE"]);
const STATUSES = [
  "",
  "PENDING",
  "OPEN",
  "PARTIALLY_FILLED",
  "PENDING_CANCEL",
  "PENDING_UPDATE",
  "FILLED",
  "CANCELLED",
  "DENIED",
  "REJECTED",
  "EXPIRED",
];
const COLUMNS = [
  "Time",
  "Symbol",
  "Side",
  "Qty",
  "Filled",
  "Type",
  "Price",
  "Avg",
  "Product",
  "Status",
  "",
];

export function Orders() {
  const { api } = useClients();
  const { accountId } = useSelection();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const orders = useOrders();
  const [status, setStatus] = useState("");

  const cancel = useMutation({
    // 200 with the order as it ends (CANCELLED, or FILLED first), 202 with PENDING_CANCEL.
    mutationFn: (id: number) => api.post<Order | undefined>(`/orders/${id}/cancel`, {}),
    onSuccess: (updated, id) => {
      if (updated && typeof updated === "object" && updated.status)
        queryClient.setQueryData<Order[]>(keys.orders, (held) => mergeOrder(held ?? [], updated));
      toast(`Cancel sent for order ${id}`);
    },
  });
  const cancelAll = useMutation({
    mutationFn: () => api.post("/orders/cancel-all", {}),
    onSuccess: () => {
      toast("Cancel requested for all working orders");
      void queryClient.invalidateQueries({ queryKey: keys.orders });
    },
  });

  const rows = newestFirst(
    (orders.data ?? []).filter(
      (o) =>
        (o.broker_account_id === undefined ||
          accountId === null ||
          o.broker_account_id === accountId) &&
        (!status || o.status === status),
    ),
  );
  const missing = routeMissing(orders.error);

  return (
    <section className="card orders" id="orders">
      <div className="card-head">
        <h2>Orders</h2>
        <span className="spacer" />
        <Select
          name="status"
          options={STATUSES.map((s) => [s, s || "all statuses"] as const)}
          value={status}
          onChange={(event) => setStatus(event.target.value)}
        />
        <button type="button" className="secondary" onClick={() => void orders.refetch()}>
          Refresh
        </button>
        <button
          type="button"
          className="secondary"
          id="cancel-all"
          onClick={async () => {
            const ok = await confirm(
              "Cancel all working orders?",
              "Every open order of your accounts will be cancelled.",
              "Cancel all",
            );
            if (ok) cancelAll.mutate();
          }}
        >
          Cancel all
        </button>
      </div>
      {missing ? <NotAvailable what="Orders" /> : null}
      <ErrorBox error={(missing ? null : orders.error) ?? cancel.error ?? cancelAll.error} />
      <div className="scroll">
        <table className="grid">
          <thead>
            <tr>
              {COLUMNS.map((title, i) => (
                <th key={i}>{title}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.length ? (
              rows.map((o) => (
                <OrderRow key={orderId(o)} order={o} cancel={(id) => cancel.mutate(id)} />
              ))
            ) : (
              <tr>
                <td colSpan={COLUMNS.length} className="muted">
                  No orders.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function OrderRow({ order: o, cancel }: { order: Order; cancel: (id: number) => void }) {
  const id = orderId(o);
  const prices = [
    o.limit_price ? `L ${money(o.limit_price)}` : "",
    o.trigger_price ? `T ${money(o.trigger_price)}` : "",
  ]
    .filter(Boolean)
    .join(" / ");
  return (
    <tr data-order={String(id ?? "")}>
      <td className="small">{time(o.created_at ?? o.ts)}</td>
      <td className="sym">{o.symbol}</td>
      <td className={o.side === "BUY" ? "up" : "down"}>{o.side}</td>
      <td className="num">{qty(o.quantity)}</td>
      <td className="num">{qty(o.filled_quantity ?? "0")}</td>
      <td>{o.order_type ?? "-"}</td>
      <td className="num small nowrap">{prices || "-"}</td>
      <td className="num">{money(o.average_price)}</td>
      <td className="small">{[o.product, o.validity].filter(Boolean).join(" ")}</td>
      <td>
        <span className={`status status-${o.status.toLowerCase()}`}>{o.status}</span>
        {o.reason ? <div className="small muted">{o.reason}</div> : null}
      </td>
      <td>
        {id !== undefined && CANCELLABLE.has(o.status) ? (
          <button type="button" className="small secondary" onClick={() => cancel(id)}>
            Cancel
          </button>
        ) : null}
      </td>
    </tr>
  );
}
