/** Positions and the account summary of the selected account, kept live. */
import { ApiError } from "../api";
import { ErrorBox, h, notAvailable } from "../dom";
import { money, pnlClass, price, qty, sign } from "../format";
import type { AppContext, View } from "../state";
import type { AccountSummary, Position, TickFrame } from "../types";

const SUMMARY_FIELDS: [keyof AccountSummary, string, boolean][] = [
  ["equity", "Equity", false],
  ["cash", "Cash", false],
  ["margin_used", "Margin used", false],
  ["free_margin", "Free margin", false],
  ["day_pnl", "Day P&L", true],
  ["realised_pnl", "Realised P&L", true],
  ["unrealised_pnl", "Unrealised P&L", true],
  ["charges", "Charges", false],
];

export function summaryView(app: AppContext): View {
  const grid = h("dl", { class: "summary", id: "account-summary" });
  const notice = h("div");
  const errors = new ErrorBox();
  let summary: AccountSummary | null = null;
  let duringLoad: AccountSummary[] | null = null; // frames that arrive while reading

  const render = (): void => {
    grid.replaceChildren(
      ...SUMMARY_FIELDS.flatMap(([key, label, isPnl]) => [
        h("dt", null, label),
        h(
          "dd",
          {
            class: `num ${isPnl ? pnlClass(summary?.[key]) : ""}`,
            dataset: { field: String(key) },
          },
          money(summary?.[key]),
        ),
      ]),
    );
  };

  const load = async (): Promise<void> => {
    const id = app.accountId.value;
    errors.clear();
    summary = null;
    render();
    if (id === null) {
      notice.replaceChildren(h("p", { class: "muted" }, "No broker account selected."));
      return;
    }
    const pending: AccountSummary[] = [];
    duringLoad = pending;
    try {
      const read = await app.api.get<AccountSummary>(`/accounts/${id}/summary`);
      if (id !== app.accountId.value) return;
      summary = Object.assign(read, ...pending);
      notice.replaceChildren();
      render();
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing)
        notice.replaceChildren(notAvailable("Account summary"));
      else errors.show(error);
    } finally {
      if (duringLoad === pending) duringLoad = null;
    }
  };

  const onFrame = (data: unknown): void => {
    const frame = data as AccountSummary;
    const frameAccount = frame.broker_account_id ?? frame.account_id;
    if (frameAccount !== undefined && frameAccount !== app.accountId.value) return;
    duringLoad?.push(frame);
    summary = { ...(summary ?? {}), ...frame };
    render();
  };

  const stops = [
    app.live.on("account", onFrame),
    app.live.onResync(() => void load()),
    app.accountId.subscribe(() => void load()),
  ];
  const el = h("section", { class: "card" }, h("h2", { text: "Account" }), notice, errors.el, grid);
  return { el, shown: () => void load(), dispose: () => stops.forEach((stop) => stop()) };
}

export function positionsView(app: AppContext): View {
  const body = h("tbody");
  const notice = h("div");
  const errors = new ErrorBox();
  let positions: Position[] = [];
  const lastPrice = new Map<string, number>();
  const tickStops = new Map<string, () => void>();
  let reloadTimer: number | undefined;

  const render = (): void => {
    const open = positions.filter((p) => sign(p.quantity) !== 0 || sign(p.realised_pnl) !== 0);
    body.replaceChildren(
      ...(open.length
        ? open.map((p) => {
            const ltp =
              lastPrice.get(p.symbol) ?? (p.last_price == null ? null : Number(p.last_price));
            // Live mark-to-market for display only; the books are kept in decimals server-side.
            const mtm =
              ltp === null
                ? p.unrealised_pnl
                : (Number(p.quantity) * (ltp - Number(p.average_price))).toFixed(2);
            return h(
              "tr",
              { dataset: { symbol: p.symbol } },
              h("td", { class: "sym" }, p.symbol),
              h("td", { class: "small" }, p.product ?? ""),
              h("td", { class: `num ${pnlClass(p.quantity)}` }, qty(p.quantity)),
              h("td", { class: "num" }, money(p.average_price)),
              h("td", { class: "num" }, ltp === null ? "-" : price(ltp)),
              h("td", { class: `num ${pnlClass(mtm)}` }, money(mtm)),
              h("td", { class: `num ${pnlClass(p.realised_pnl)}` }, money(p.realised_pnl)),
            );
          })
        : [h("tr", null, h("td", { colspan: 7, class: "muted" }, "No open positions."))]),
    );
  };

  const watchPrices = (): void => {
    const wanted = new Set(positions.filter((p) => sign(p.quantity) !== 0).map((p) => p.symbol));
    for (const [symbol, stop] of tickStops) {
      if (!wanted.has(symbol)) {
        stop();
        tickStops.delete(symbol);
      }
    }
    for (const symbol of wanted) {
      if (tickStops.has(symbol)) continue;
      tickStops.set(
        symbol,
        app.live.on(`ticks:${symbol}`, (data) => {
          lastPrice.set(symbol, (data as TickFrame).price);
          render();
        }),
      );
    }
  };

  const load = async (): Promise<void> => {
    const id = app.accountId.value;
    errors.clear();
    if (id === null) {
      positions = [];
      render();
      watchPrices();
      return;
    }
    try {
      const items = await app.api.list<Position>("/positions", { broker_account_id: id });
      if (id !== app.accountId.value) return;
      positions = items.filter(
        (p) => p.broker_account_id === undefined || p.broker_account_id === id,
      );
      notice.replaceChildren();
      render();
      watchPrices();
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing)
        notice.replaceChildren(notAvailable("Positions"));
      else errors.show(error);
    }
  };

  // A position event names no product, and positions are kept per (symbol, product):
  // re-read the book (events come only with fills, so this stays rare).
  const onFrame = (data: unknown): void => {
    const event = data as Position;
    if (event.broker_account_id !== undefined && event.broker_account_id !== app.accountId.value)
      return;
    window.clearTimeout(reloadTimer);
    reloadTimer = window.setTimeout(() => void load(), 300);
  };

  const stops = [
    app.live.on("positions", onFrame),
    app.live.onResync(() => void load()),
    app.accountId.subscribe(() => void load()),
  ];
  const el = h(
    "section",
    { class: "card positions", id: "positions" },
    h("h2", { text: "Positions" }),
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
            ...["Symbol", "Product", "Qty", "Avg price", "LTP", "Unrealised", "Realised"].map((t) =>
              h("th", null, t),
            ),
          ),
        ),
        body,
      ),
    ),
  );
  return {
    el,
    shown: () => void load(),
    dispose: () => {
      window.clearTimeout(reloadTimer);
      stops.forEach((stop) => stop());
      tickStops.forEach((stop) => stop());
    },
  };
}
