/** The order book of the selected account: GET /orders, live status from `orders`, cancel. */
import { ApiError } from "../api";
import { ErrorBox, confirmDialog, h, notAvailable, select, toast } from "../dom";
import { money, qty, time } from "../format";
import type { AppContext, View } from "../state";
import type { Order } from "../types";

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
const LIMIT = 100;

export function ordersView(app: AppContext): View {
  const orders = new Map<number, Order>();
  const body = h("tbody");
  const notice = h("div");
  const statusFilter = select(
    "status",
    STATUSES.map((s) => [s, s || "all statuses"] as [string, string]),
    "",
  );
  const cancelAll = h(
    "button",
    { type: "button", class: "secondary", id: "cancel-all" },
    "Cancel all",
  );
  const errors = new ErrorBox();

  const idOf = (o: Order): number | undefined => o.id ?? o.order_id;

  const visible = (o: Order): boolean =>
    (o.broker_account_id === undefined ||
      app.accountId.value === null ||
      o.broker_account_id === app.accountId.value) &&
    (!statusFilter.value || o.status === statusFilter.value);

  const render = (): void => {
    const rows = [...orders.values()]
      .filter(visible)
      .sort(
        (a, b) =>
          String(b.created_at ?? b.ts ?? "").localeCompare(String(a.created_at ?? a.ts ?? "")) ||
          (idOf(b) ?? 0) - (idOf(a) ?? 0),
      )
      .slice(0, LIMIT)
      .map(rowFor);
    body.replaceChildren(
      ...(rows.length
        ? rows
        : [h("tr", null, h("td", { colspan: 11, class: "muted" }, "No orders."))]),
    );
  };

  const rowFor = (o: Order): HTMLTableRowElement => {
    const id = idOf(o);
    const cancel =
      id !== undefined && CANCELLABLE.has(o.status)
        ? h(
            "button",
            { type: "button", class: "small secondary", onclick: () => void cancelOrder(id) },
            "Cancel",
          )
        : null;
    const prices = [
      o.limit_price ? `L ${money(o.limit_price)}` : "",
      o.trigger_price ? `T ${money(o.trigger_price)}` : "",
    ]
      .filter(Boolean)
      .join(" / ");
    return h(
      "tr",
      { dataset: { order: String(id ?? "") } },
      h("td", { class: "small" }, time(o.created_at ?? o.ts)),
      h("td", { class: "sym" }, o.symbol),
      h("td", { class: o.side === "BUY" ? "up" : "down" }, o.side),
      h("td", { class: "num" }, qty(o.quantity)),
      h("td", { class: "num" }, qty(o.filled_quantity ?? "0")),
      h("td", null, o.order_type ?? "-"),
      h("td", { class: "num small nowrap" }, prices || "-"),
      h("td", { class: "num" }, money(o.average_price)),
      h("td", { class: "small" }, [o.product, o.validity].filter(Boolean).join(" ")),
      h(
        "td",
        null,
        h("span", { class: `status status-${o.status.toLowerCase()}` }, o.status),
        o.reason ? h("div", { class: "small muted", text: o.reason }) : null,
      ),
      h("td", null, cancel),
    );
  };

  const cancelOrder = async (id: number): Promise<void> => {
    try {
      const updated = await app.api.post<Order | undefined>(`/orders/${id}/cancel`, {});
      if (updated && typeof updated === "object" && updated.status) merge(updated);
      toast(`Cancel sent for order ${id}`);
    } catch (error) {
      errors.show(error);
    }
  };

  const merge = (update: Partial<Order>): void => {
    const id = update.id ?? update.order_id;
    if (id === undefined) return;
    const held = orders.get(id);
    // An older state (a late event, or a response read before a newer event) never wins.
    if (held?.version !== undefined && update.version !== undefined && update.version <= held.version)
      return;
    orders.set(id, { ...(held ?? ({} as Order)), ...stripNulls(update), id } as Order);
    render();
  };

  // Events that arrive while the list is being read are applied again on top of it.
  let duringLoad: Partial<Order>[] | null = null;

  const load = async (): Promise<void> => {
    errors.clear();
    const pending: Partial<Order>[] = [];
    duringLoad = pending;
    try {
      const items = await app.api.list<Order>("/orders", { limit: LIMIT });
      orders.clear();
      for (const o of items) {
        const id = idOf(o);
        if (id !== undefined) orders.set(id, o);
      }
      notice.replaceChildren();
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing)
        notice.replaceChildren(notAvailable("Orders"));
      else errors.show(error);
    } finally {
      if (duringLoad === pending) duringLoad = null;
      for (const update of pending) merge(update);
      render();
    }
  };

  const onFrame = (data: unknown): void => {
    // Order events carry the whole order and its version.
    const event = data as Order & { order_id: number };
    duringLoad?.push({ ...event, id: event.order_id });
    merge({ ...event, id: event.order_id });
  };

  cancelAll.addEventListener("click", async () => {
    if (
      !(await confirmDialog(
        "Cancel all working orders?",
        "Every open order of your accounts will be cancelled.",
        "Cancel all",
      ))
    )
      return;
    try {
      await app.api.post("/orders/cancel-all", {});
      toast("Cancel requested for all working orders");
      void load();
    } catch (error) {
      errors.show(error);
    }
  });
  statusFilter.addEventListener("change", render);

  const stops = [
    app.live.on("orders", onFrame),
    app.live.onResync(() => void load()),
    app.accountId.subscribe(render),
  ];
  void load();

  const el = h(
    "section",
    { class: "card orders", id: "orders" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { text: "Orders" }),
      h("span", { class: "spacer" }),
      statusFilter,
      h("button", { type: "button", class: "secondary", onclick: () => void load() }, "Refresh"),
      cancelAll,
    ),
    notice,
    errors.el,
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "grid" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ...[
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
            ].map((t) => h("th", null, t)),
          ),
        ),
        body,
      ),
    ),
  );
  return { el, shown: () => void load(), dispose: () => stops.forEach((stop) => stop()) };
}

function stripNulls<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
