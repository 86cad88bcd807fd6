/** The account summary of the selected account, kept live by `account` frames. */
import { Fragment } from "react";
import { useSelection } from "../context";
import { money, pnlClass } from "../format";
import { useSummary } from "../server/queries";
import type { AccountSummary } from "../types";
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

export function Summary() {
  const { accountId } = useSelection();
  const summary = useSummary(accountId);
  const missing = routeMissing(summary.error);
  return (
    <section className="card">
      <h2>Account</h2>
      {accountId === null ? <p className="muted">No broker account selected.</p> : null}
      {missing ? <NotAvailable what="Account summary" /> : <ErrorBox error={summary.error} />}
      <dl className="summary" id="account-summary">
        {FIELDS.map(([key, label, isPnl]) => (
          <Fragment key={key}>
            <dt>{label}</dt>
            <dd className={`num ${isPnl ? pnlClass(summary.data?.[key]) : ""}`} data-field={key}>
              {money(summary.data?.[key])}
            </dd>
          </Fragment>
        ))}
      </dl>
    </section>
  );
}
