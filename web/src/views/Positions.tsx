/**
 * Positions of the selected account, marked to market live from `ticks:SYMBOL`; *Close*
 * sends a market order for what is open (POST /positions/close), after a confirmation.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useClients, useSelection } from "../context";
import { money, pnlClass, price, qty, sign } from "../format";
import { useMarks } from "../liveHooks";
import { keys } from "../server/keys";
import { mergeOrder } from "../server/orderBook";
import { usePositions } from "../server/queries";
import type { Order, Position } from "../types";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";

/** [title, class]: p2 gives way first on a narrow card, then p3, then p4. */
const COLUMNS: [string, string][] = [
  ["Symbol", ""],
  ["Product", "p4"],
  ["Qty", "num"],
  ["Avg price", "num p2"],
  ["LTP", "num p3"],
  ["Unrealised", "num"],
  ["Realised", "num p2"],
  ["", ""],
];
/** Fills follow a market order within moments: the book is read again then. */
const SETTLE_MS = 1200;

/** The live profit of an open position at `ltp` (display only; the books are kept server-side). */
export function markedPnl(p: Position, ltp: number | null): string | undefined {
  return ltp === null
    ? p.unrealised_pnl
    : (Number(p.quantity) * (ltp - Number(p.average_price))).toFixed(2);
}

export function Positions() {
  const { api } = useClients();
  const { accountId } = useSelection();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const positions = usePositions(accountId);
  const all = accountId === null ? [] : (positions.data ?? []);
  const shown = all.filter((p) => sign(p.quantity) !== 0 || sign(p.realised_pnl) !== 0);
  const marks = useMarks([
    ...new Set(all.filter((p) => sign(p.quantity) !== 0).map((p) => p.symbol)),
  ]);

  const close = useMutation({
    mutationFn: (p: Position) =>
      api.post<Order>("/positions/close", {
        broker_account_id: p.broker_account_id ?? accountId,
        symbol: p.symbol,
        product: p.product ?? "MIS",
      }),
    onSuccess: (order, p) => {
      queryClient.setQueryData<Order[]>(keys.orders, (held) =>
        held ? mergeOrder(held, order) : held,
      );
      toast(`Closing ${p.symbol}: order ${order.id ?? ""} ${order.status}`);
      window.setTimeout(() => {
        void queryClient.invalidateQueries({ queryKey: keys.positions });
        void queryClient.invalidateQueries({ queryKey: ["account-summary"] });
      }, SETTLE_MS);
    },
  });
  const missing = routeMissing(positions.error);

  return (
    <section className="card positions" id="positions">
      <h2>Positions</h2>
      {missing ? <NotAvailable what="Positions" /> : null}
      <ErrorBox error={(missing ? null : positions.error) ?? close.error} />
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
            {shown.length ? (
              shown.map((p) => {
                const ltp = marks[p.symbol] ?? (p.last_price == null ? null : Number(p.last_price));
                const mtm = markedPnl(p, ltp);
                const open = sign(p.quantity) !== 0;
                return (
                  <tr key={`${p.symbol}:${p.product ?? ""}`} data-symbol={p.symbol}>
                    <td className="sym">{p.symbol}</td>
                    <td className="small p4">{p.product ?? ""}</td>
                    <td className={`num ${pnlClass(p.quantity)}`}>{qty(p.quantity)}</td>
                    <td className="num p2">{money(p.average_price)}</td>
                    <td className="num p3">{ltp === null ? "-" : price(ltp)}</td>
                    <td className={`num unrealised ${pnlClass(mtm)}`}>{money(mtm)}</td>
                    <td className={`num p2 ${pnlClass(p.realised_pnl)}`}>
                      {money(p.realised_pnl)}
                    </td>
                    <td className="end">
                      {open ? (
                        <button
                          type="button"
                          className="small danger close-position"
                          disabled={close.isPending}
                          onClick={async () => {
                            const ok = await confirm(
                              `Close ${p.symbol}?`,
                              `A market order ${sign(p.quantity) > 0 ? "sells" : "buys"} ${qty(p.quantity).replace("-", "")} ${p.symbol} (${p.product ?? "MIS"}), less what exits are already working.`,
                              "Close position",
                            );
                            if (ok) close.mutate(p);
                          }}
                        >
                          Close
                        </button>
                      ) : null}
                    </td>
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
