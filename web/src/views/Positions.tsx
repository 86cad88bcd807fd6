/** Positions of the selected account, marked to market live from `ticks:SYMBOL`. */
import { useState } from "react";
import { useSelection } from "../context";
import { money, pnlClass, price, qty, sign } from "../format";
import { useChannels } from "../liveHooks";
import { usePositions } from "../server/queries";
import type { TickFrame } from "../types";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";

const COLUMNS = ["Symbol", "Product", "Qty", "Avg price", "LTP", "Unrealised", "Realised"];

export function Positions() {
  const { accountId } = useSelection();
  const positions = usePositions(accountId);
  const [marks, setMarks] = useState<Record<string, number>>({});
  const all = accountId === null ? [] : (positions.data ?? []);
  const shown = all.filter((p) => sign(p.quantity) !== 0 || sign(p.realised_pnl) !== 0);
  const open = [...new Set(all.filter((p) => sign(p.quantity) !== 0).map((p) => p.symbol))];

  useChannels(
    open.map((symbol) => `ticks:${symbol}`),
    (data) => {
      const tick = data as TickFrame;
      setMarks((held) => ({ ...held, [tick.symbol]: tick.price }));
    },
  );
  const missing = routeMissing(positions.error);

  return (
    <section className="card positions" id="positions">
      <h2>Positions</h2>
      {missing ? <NotAvailable what="Positions" /> : <ErrorBox error={positions.error} />}
      <div className="scroll">
        <table className="grid">
          <thead>
            <tr>
              {COLUMNS.map((title) => (
                <th key={title}>{title}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.length ? (
              shown.map((p) => {
                const ltp = marks[p.symbol] ?? (p.last_price == null ? null : Number(p.last_price));
                // Live mark-to-market for display only; the books are kept in decimals server-side.
                const mtm =
                  ltp === null
                    ? p.unrealised_pnl
                    : (Number(p.quantity) * (ltp - Number(p.average_price))).toFixed(2);
                return (
                  <tr key={`${p.symbol}:${p.product ?? ""}`} data-symbol={p.symbol}>
                    <td className="sym">{p.symbol}</td>
                    <td className="small">{p.product ?? ""}</td>
                    <td className={`num ${pnlClass(p.quantity)}`}>{qty(p.quantity)}</td>
                    <td className="num">{money(p.average_price)}</td>
                    <td className="num">{ltp === null ? "-" : price(ltp)}</td>
                    <td className={`num ${pnlClass(mtm)}`}>{money(mtm)}</td>
                    <td className={`num ${pnlClass(p.realised_pnl)}`}>{money(p.realised_pnl)}</td>
                  </tr>
                );
              })
            ) : (
              <tr>
                <td colSpan={COLUMNS.length} className="muted">
                  No open positions.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
