/**
 * The order book of the selected account: GET /orders, live status from `orders`; modify
 * (PATCH /orders/{id}) and cancel working orders. Strategy and system orders are marked,
 * with the signal's stop and target. Columns give way by priority on narrow cards.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { useClients, useSelection } from "../context";
import { money, qty, time } from "../format";
import { keys } from "../server/keys";
import { mergeOrder, newestFirst, orderId } from "../server/orderBook";
import { useOrders } from "../server/queries";
import type { Order } from "../types";
import { ErrorBox, NotAvailable, invalid, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";

// PENDING is still being decided (409 order_pending) and PENDING_CANCEL is under way.
const CANCELLABLE = new Set(["SUBMITTED", "UNKNOWN", "OPEN", "PARTIALLY_FILLED", "PENDING_UPDATE"]);
const MODIFIABLE = new Set(["OPEN", "PARTIALLY_FILLED"]);
const NEEDS_LIMIT = new Set(["LIMIT", "SL"]);
const NEEDS_TRIGGER = new Set(["SL", "SL-M"]);
/** The filter "working" covers every state in which an order may still fill. */
const WORKING = new Set([
  "PENDING",
  "SUBMITTED",
  "UNKNOWN",
  "OPEN",
  "PARTIALLY_FILLED",
  "PENDING_CANCEL",
  "PENDING_UPDATE",
]);
const STATUSES: (readonly [string, string])[] = [
  ["", "all statuses"],
  ["working", "working"],
  ...[
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
  ].map((s) => [s, s] as const),
];
/** [title, priority class]: p2 goes first on a narrow card, then p3, then p4. */
const COLUMNS: [string, string][] = [
  ["Time", "p3"],
  ["Symbol", ""],
  ["Side", ""],
  ["Qty", "num"],
  ["Type / price", "p2"],
  ["Avg", "num p3"],
  ["Product", "p4"],
  ["Status", ""],
  ["", ""],
];

export function Orders() {
  const { api } = useClients();
  const { accountId } = useSelection();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const orders = useOrders();
  const [status, setStatus] = useState("");
  const [editing, setEditing] = useState<number | null>(null);

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
        (!status || (status === "working" ? WORKING.has(o.status) : o.status === status)),
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
          aria-label="Order status"
          options={STATUSES}
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
              {COLUMNS.map(([title, cls], i) => (
                <th key={i} className={cls || undefined}>
                  {title}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.length ? (
              rows.map((o) => {
                const id = orderId(o);
                return (
                  <Fragment key={id}>
                    <OrderRow
                      order={o}
                      cancel={(oid) => cancel.mutate(oid)}
                      modify={(oid) => setEditing(editing === oid ? null : oid)}
                    />
                    {id !== undefined && editing === id ? (
                      <tr className="edit-row">
                        <td colSpan={COLUMNS.length}>
                          <ModifyForm order={o} close={() => setEditing(null)} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })
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

/** Where an order came from, when not the ticket: a strategy's signal or the platform. */
function OriginTag({ order: o }: { order: Order }) {
  if (!o.origin || o.origin === "manual") return null;
  const title =
    o.origin === "strategy"
      ? `Placed by a strategy${o.subscription_id ? ` (subscription #${o.subscription_id})` : ""}${o.algo_tag ? `, ${o.algo_tag}` : ""}`
      : "Placed by the platform (liquidation or exit)";
  return (
    <span className={`tag tag-${o.origin}`} title={title} data-origin={o.origin}>
      {o.origin === "strategy" ? "strategy" : "system"}
    </span>
  );
}

function OrderRow({
  order: o,
  cancel,
  modify,
}: {
  order: Order;
  cancel: (id: number) => void;
  modify: (id: number) => void;
}) {
  const id = orderId(o);
  const prices = [
    o.limit_price ? `L ${money(o.limit_price)}` : "",
    o.trigger_price ? `T ${money(o.trigger_price)}` : "",
  ]
    .filter(Boolean)
    .join(" / ");
  const protect = [
    o.stop_price ? `SL ${money(o.stop_price)}` : "",
    o.target_price ? `TP ${money(o.target_price)}` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  const filled = o.filled_quantity && o.filled_quantity !== "0" ? qty(o.filled_quantity) : "0";
  return (
    <tr data-order={String(id ?? "")} data-origin={o.origin ?? "manual"}>
      <td className="small nowrap p3">{time(o.created_at ?? o.ts)}</td>
      <td>
        <span className="sym">{o.symbol}</span> <OriginTag order={o} />
        {protect ? (
          <div className="small muted protect" title="The signal's stop loss and target">
            {protect}
          </div>
        ) : null}
      </td>
      <td className={o.side === "BUY" ? "up" : "down"}>{o.side}</td>
      <td className="num nowrap qty" title={`filled ${filled} of ${qty(o.quantity)}`}>
        {filled === "0" ? qty(o.quantity) : `${filled}/${qty(o.quantity)}`}
      </td>
      <td className="small p2">
        {o.order_type ?? "-"}
        {prices ? <div className="nowrap">{prices}</div> : null}
      </td>
      <td className="num p3">{money(o.average_price)}</td>
      <td className="small p4">{[o.product, o.validity].filter(Boolean).join(" ")}</td>
      <td>
        <span className={`status status-${o.status.toLowerCase()}`}>{o.status}</span>
        {o.reason ? <div className="small muted reason">{o.reason}</div> : null}
      </td>
      <td className="end">
        <div className="row-actions">
          {id !== undefined && MODIFIABLE.has(o.status) ? (
            <button type="button" className="small secondary modify" onClick={() => modify(id)}>
              Modify
            </button>
          ) : null}
          {id !== undefined && CANCELLABLE.has(o.status) ? (
            <button type="button" className="small secondary cancel" onClick={() => cancel(id)}>
              Cancel
            </button>
          ) : null}
        </div>
      </td>
    </tr>
  );
}

/** Change a working order's quantity or prices; only what changed is sent. */
function ModifyForm({ order, close }: { order: Order; close: () => void }) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const toast = useToast();
  const id = orderId(order)!;
  const type = order.order_type ?? "MARKET";
  const [quantity, setQuantity] = useState(qty(order.quantity));
  const [limit, setLimit] = useState(order.limit_price ? qty(order.limit_price) : "");
  const [trigger, setTrigger] = useState(order.trigger_price ? qty(order.trigger_price) : "");
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, string> = {};
      if (quantity.trim() && quantity.trim() !== qty(order.quantity))
        body.quantity = quantity.trim();
      if (NEEDS_LIMIT.has(type) && limit.trim() && limit.trim() !== qty(order.limit_price))
        body.limit_price = limit.trim();
      if (NEEDS_TRIGGER.has(type) && trigger.trim() && trigger.trim() !== qty(order.trigger_price))
        body.trigger_price = trigger.trim();
      if (!Object.keys(body).length) throw new Error("Nothing changed.");
      // 200 with the order as changed, 202 with it PENDING_UPDATE.
      return api.patch<Order>(`/orders/${id}`, body);
    },
    onSuccess: (updated) => {
      if (updated?.status)
        queryClient.setQueryData<Order[]>(keys.orders, (held) => mergeOrder(held ?? [], updated));
      toast(`Order ${id} modified`);
      close();
    },
  });
  const error = save.error;
  return (
    <form
      className="inline modify-form"
      id={`modify-${id}`}
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <Field label="Quantity">
        <input
          name="quantity"
          type="number"
          min="0"
          step="any"
          required
          value={quantity}
          onChange={(event) => setQuantity(event.target.value)}
          {...invalid(error, "quantity")}
        />
      </Field>
      {NEEDS_LIMIT.has(type) ? (
        <Field label="Limit price">
          <input
            name="limit_price"
            type="number"
            min="0"
            step="any"
            value={limit}
            onChange={(event) => setLimit(event.target.value)}
            {...invalid(error, "limit_price")}
          />
        </Field>
      ) : null}
      {NEEDS_TRIGGER.has(type) ? (
        <Field label="Trigger price">
          <input
            name="trigger_price"
            type="number"
            min="0"
            step="any"
            value={trigger}
            onChange={(event) => setTrigger(event.target.value)}
            {...invalid(error, "trigger_price")}
          />
        </Field>
      ) : null}
      <button type="submit" className="primary" disabled={save.isPending}>
        Save changes
      </button>
      <button type="button" className="secondary" onClick={close}>
        Close
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
