/** The trader's main screen: watchlist, chart, ticket and account; positions and orders below. */
import { ChartPanel } from "./ChartPanel";
import { Orders } from "./Orders";
import { Positions } from "./Positions";
import { Summary } from "./Summary";
import { Ticket } from "./Ticket";
import { Watchlist } from "./Watchlist";

export function TradePage() {
  return (
    <section className="trade" id="trade">
      <div className="trade-left">
        <Watchlist />
      </div>
      <div className="trade-center">
        <ChartPanel />
      </div>
      <div className="trade-right">
        <Ticket />
        <Summary />
      </div>
      <div className="trade-bottom">
        <Positions />
        <Orders />
      </div>
    </section>
  );
}
