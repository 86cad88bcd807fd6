/** The tradebook: every fill (GET /fills), newest first, of one account or all, with charges. */
import { useState } from "react";
import { useSelection } from "../context";
import { money, qty, time } from "../format";
import { FILLS_PAGE, useAccounts, useFills } from "../server/queries";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";
import { Pager } from "../ui/Pager";
import { Select } from "../ui/fields";

/** [title, class]: p2 gives way first on a narrow card, then p3, then p4. */
const COLUMNS: [string, string][] = [
  ["Time", ""],
  ["Symbol", ""],
  ["Side", ""],
  ["Qty", "num"],
  ["Price", "num"],
  ["Value", "num p3"],
  ["Charges", "num p2"],
  ["Order", "num p3"],
  ["Account", "p4"],
];

export default function TradebookPage() {
  const { accountId } = useSelection();
  const accounts = useAccounts().data ?? [];
  // "" is every account; null until the user picks: the account the trade screen works with.
  const [picked, setPicked] = useState<string | null>(null);
  const account = picked ?? (accountId === null ? "" : String(accountId));
  const [draft, setDraft] = useState("");
  const [symbol, setSymbol] = useState("");
  const [offset, setOffset] = useState(0);
  const fills = useFills(account ? Number(account) : null, symbol, offset);
  const items = fills.data?.items;
  const label = (id: number) => accounts.find((a) => a.id === id)?.label ?? `#${id}`;

  return (
    <section className="tradebook" id="tradebook">
      <div className="card">
        <div className="card-head">
          <h2>Tradebook</h2>
          <span className="spacer" />
          <form
            className="inline"
            onSubmit={(event) => {
              event.preventDefault();
              setOffset(0);
              setSymbol(draft.trim().toUpperCase());
            }}
          >
            <Select
              name="broker_account_id"
              aria-label="Broker account"
              options={[
                ["", "all accounts"],
                ...accounts.map((a) => [String(a.id), `${a.label} (${a.currency})`] as const),
              ]}
              value={account}
              onChange={(event) => {
                setOffset(0);
                setPicked(event.target.value);
              }}
            />
            <input
              name="symbol"
              placeholder="Symbol"
              aria-label="Symbol"
              size={10}
              value={draft}
              onChange={(event) => setDraft(event.target.value)}
            />
            <button type="submit">Filter</button>
          </form>
        </div>
        {routeMissing(fills.error) ? (
          <NotAvailable what="Tradebook" />
        ) : (
          <ErrorBox error={fills.error} />
        )}
        <div className="scroll">
          <table className="grid" id="fills">
            <thead>
              <tr>
                {COLUMNS.map(([title, cls]) => (
                  <th key={title} className={cls || undefined}>
                    {title}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {items?.length === 0 ? (
                <tr>
                  <td colSpan={COLUMNS.length} className="muted">
                    No trades yet.
                  </td>
                </tr>
              ) : (
                items?.map((f) => (
                  <tr key={f.id} data-fill={String(f.id)} data-order={String(f.order_id)}>
                    <td className="small nowrap">{time(f.ts)}</td>
                    <td className="sym">{f.symbol}</td>
                    <td className={f.side === "BUY" ? "up" : "down"}>{f.side}</td>
                    <td className="num">{qty(f.quantity)}</td>
                    <td className="num">{money(f.price)}</td>
                    <td className="num p3">{money(Number(f.quantity) * Number(f.price))}</td>
                    <td
                      className="num p2"
                      title={Object.entries(f.charges_detail ?? {})
                        .map(([k, v]) => `${k} ${money(v)}`)
                        .join(", ")}
                    >
                      {money(f.charges)}
                    </td>
                    <td className="num p3">{String(f.order_id)}</td>
                    <td className="small p4">{label(f.broker_account_id)}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </div>
        <Pager page={fills.data} size={FILLS_PAGE} go={setOffset} />
      </div>
    </section>
  );
}
