/** The trader's main screen: watchlist, chart, ticket and account; positions and orders below.
 * Panels the trader hid (the layout preference) are left out; the chart and ticket stay. */
import { useLayout } from "../layout";
import { ChartPanel } from "./ChartPanel";
import { Orders } from "./Orders";
import { Positions } from "./Positions";
import { Summary } from "./Summary";
import { Ticket } from "./Ticket";
import { Watchlist } from "./Watchlist";

export function TradePage() {
  const hidden = new Set(useLayout().hidden_panels);
  const bottom = !hidden.has("positions") || !hidden.has("orders");
  return (
    <section className="trade" id="trade" data-hide={[...hidden].join(" ") || undefined}>
      {hidden.has("watchlist") ? null : (
        <div className="trade-left">
          <Watchlist />
        </div>
      )}
      <div className="trade-center">
        <ChartPanel />
      </div>
      <div className="trade-right">
        <Ticket />
        {hidden.has("summary") ? null : <Summary />}
      </div>
      {bottom ? (
        <div className="trade-bottom">
          {hidden.has("positions") ? null : <Positions />}
          {hidden.has("orders") ? null : <Orders />}
        </div>
      ) : null}
    </section>
  );
}
