/** The trader's main screen: watchlist, chart, ticket and account; positions and orders below. */
import { h } from "../dom";
import type { AppContext, View } from "../state";
import { chartView } from "./chart";
import { ordersView } from "./orders";
import { positionsView, summaryView } from "./positions";
import { ticketView } from "./ticket";
import { watchlistView } from "./watchlist";

export function tradeView(app: AppContext): View {
  const parts = [
    watchlistView(app),
    chartView(app),
    ticketView(app),
    summaryView(app),
    positionsView(app),
    ordersView(app),
  ];
  const [watchlist, chart, ticket, summary, positions, orders] = parts.map((p) => p.el);
  const el = h(
    "section",
    { class: "trade", id: "trade" },
    h("div", { class: "trade-left" }, watchlist),
    h("div", { class: "trade-center" }, chart),
    h("div", { class: "trade-right" }, ticket, summary),
    h("div", { class: "trade-bottom" }, positions, orders),
  );
  return {
    el,
    shown: () => parts.forEach((p) => p.shown?.()),
    dispose: () => parts.forEach((p) => p.dispose?.()),
  };
}
