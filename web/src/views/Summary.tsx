/**
 * The account summary of the selected account: `account` frames replace its figures (after
 * each booking and as marks move), and between two frames the ticks of the open positions
 * move equity, free margin and P&L for display, as they move the positions table.
 */
import { Fragment, useRef } from "react";
import { useSelection } from "../context";
import { money, pnlClass, sign } from "../format";
import { useMarks } from "../liveHooks";
import { usePositions, useSummary } from "../server/queries";
import type { AccountSummary, Position } from "../types";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";

const FIELDS: [keyof AccountSummary, string, boolean][] = [
  ["equity", "Equity", false],
  ["cash", "Cash", false],
  ["margin_used", "Margin used", false],
  ["free_margin", "Free margin", false],
  ["day_pnl", "Day P&L", true],
  ["realised_pnl", "Realised P&L", true],
  ["unrealised_pnl", "Unrealised P&L", true],
  ["charges", "Charges", false],
];
/** The figures a move of the marks changes (by the same amount). */
const MARKED = new Set<keyof AccountSummary>([
  "equity",
  "free_margin",
  "day_pnl",
  "unrealised_pnl",
]);

export function Summary() {
  const { accountId } = useSelection();
  const summary = useSummary(accountId);
  const positions = (usePositions(accountId).data ?? []).filter((p) => sign(p.quantity) !== 0);
  const marks = useMarks([...new Set(positions.map((p) => p.symbol))]);
  const move = useMarkMove(summary.data, positions, marks);
  const missing = routeMissing(summary.error);
  return (
    <section className="card">
      <h2>Account</h2>
      {accountId === null ? <p className="muted">No broker account selected.</p> : null}
      {missing ? <NotAvailable what="Account summary" /> : <ErrorBox error={summary.error} />}
      <dl className="summary" id="account-summary">
        {FIELDS.map(([key, label, isPnl]) => {
          const value = shifted(summary.data?.[key], MARKED.has(key) ? move : 0);
          return (
            <Fragment key={key}>
              <dt>{label}</dt>
              <dd className={`num ${isPnl ? pnlClass(value) : ""}`} data-field={key}>
                {money(value)}
              </dd>
            </Fragment>
          );
        })}
      </dl>
    </section>
  );
}

/**
 * How much the marks moved the account since its figures were taken: each open position's
 * quantity times its price change since then. The prices "then" are those held when the
 * figures arrived (a tick seen before, else the position's last price).
 */
function useMarkMove(
  summary: AccountSummary | undefined,
  positions: Position[],
  marks: Record<string, number>,
): number {
  const base = useRef<{ of: unknown; prices: Record<string, number> }>({ of: null, prices: {} });
  if (base.current.of !== summary) {
    const prices: Record<string, number> = {};
    for (const p of positions) {
      const then = marks[p.symbol] ?? (p.last_price == null ? NaN : Number(p.last_price));
      if (Number.isFinite(then)) prices[p.symbol] = then;
    }
    base.current = { of: summary, prices };
  }
  let move = 0;
  for (const p of positions) {
    // A position read after the figures: its last price is the price "then".
    if (base.current.prices[p.symbol] === undefined && p.last_price != null)
      base.current.prices[p.symbol] = Number(p.last_price);
    const then = base.current.prices[p.symbol];
    const now = marks[p.symbol];
    if (then !== undefined && now !== undefined) move += Number(p.quantity) * (now - then);
  }
  return move;
}

/** A decimal string moved by `by` (display only); unchanged, and exact, when `by` is 0. */
function shifted(value: unknown, by: number): unknown {
  if (!by || value === null || value === undefined || value === "") return value;
  const n = Number(value);
  return Number.isFinite(n) ? (n + by).toFixed(2) : value;
}
