/** Market status shown where a trader looks: a badge per exchange, and a closed market's next open. */
import { closedText, useExchangeStatus, useMarketStatus } from "../server/marketStatus";

/** One badge per exchange: "NSE open" / "NSE closed"; the server's sentence as its title. */
export function MarketBadges() {
  const statuses = useMarketStatus();
  return (
    <span className="market-badges" id="market-status">
      {statuses.map((s) => (
        <span
          key={s.exchange}
          className="market-badge"
          data-exchange={s.exchange}
          data-open={s.is_open ? "true" : "false"}
          title={s.message}
        >
          {`${s.exchange} ${s.is_open ? "open" : "closed"}`}
        </span>
      ))}
    </span>
  );
}

/** "NSE closed, opens Mon 09:15 IST" while the exchange is closed; nothing while it trades. */
export function ClosedNote({
  exchange,
  className = "market-closed",
  withExchange = true,
}: {
  exchange: string | undefined;
  className?: string;
  withExchange?: boolean;
}) {
  const status = useExchangeStatus(exchange);
  if (!status || status.is_open) return null;
  return (
    <span className={className} data-exchange={status.exchange} title={status.message}>
      {withExchange ? `${status.exchange} ${closedText(status)}` : closedText(status)}
    </span>
  );
}
