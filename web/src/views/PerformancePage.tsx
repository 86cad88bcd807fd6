/**
 * Performance: how a broker account, a strategy subscription or all accounts in one currency
 * did over a range (GET /analytics/...): the equity curve over its drawdown, the period and
 * round-trip statistics, monthly returns and the closed round trips. Figures the report
 * withholds (a short period, few trades) show as "-" with the reason above them.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../context";
import { money, pnlClass, price, qty, time } from "../format";
import { keys } from "../server/keys";
import { useAccounts, useSubscriptions } from "../server/queries";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";
import { Field, Select } from "../ui/fields";
import { Pager } from "../ui/Pager";
import { CurveChart } from "./CurveChart";
import type { CurvePoint } from "./equityChart";
import { LiveVsBacktest } from "./LiveVsBacktest";
import {
  Flags,
  Figures,
  MonthlyReturns,
  day,
  duration,
  pct,
  type Metrics,
  type RoundTrip,
} from "./reportParts";

interface Curve {
  points: CurvePoint[];
  flags: string[];
}

interface Trades {
  items: RoundTrip[];
  total: number;
  limit: number;
  offset: number;
}

const RANGES: [string, string][] = [
  ["all", "Since opening"],
  ["30", "Last 30 days"],
  ["90", "Last 90 days"],
  ["ytd", "This year"],
  ["365", "Last 12 months"],
];

const TRADES_PAGE = 20;

/** The start of a range preset, as a day, or undefined for the scope's opening. */
function rangeStart(range: string): string | undefined {
  const now = new Date();
  if (range === "all") return undefined;
  if (range === "ytd") return `${now.getFullYear()}-01-01`;
  const from = new Date(now.getTime() - Number(range) * 86_400_000);
  return from.toISOString().slice(0, 10);
}

export default function PerformancePage() {
  const accounts = useAccounts().data ?? [];
  const subscriptions = useSubscriptions().data ?? [];
  const [picked, setPicked] = useState<string | null>(null);
  const [range, setRange] = useState("all");
  const currencies = [...new Set(accounts.map((a) => a.currency))];
  const options: [string, string][] = [
    ...accounts.map((a): [string, string] => [`account:${a.id}`, `Account: ${a.label}`]),
    ...subscriptions.map((s): [string, string] => [
      `subscription:${s.id}`,
      `Strategy #${s.id}: ${s.strategy} ${s.symbols.join(", ")}`,
    ]),
    ...currencies.map((c): [string, string] => [`portfolio:${c}`, `All ${c} accounts`]),
  ];
  const scope = picked ?? options[0]?.[0] ?? null;

  return (
    <section className="performance" id="performance">
      <div className="card">
        <div className="card-head wrap-head">
          <h2>Performance</h2>
          <span className="spacer" />
          <form className="inline" onSubmit={(event) => event.preventDefault()}>
            <Field label="Of">
              <Select
                name="scope"
                id="perf-scope"
                options={options.length ? options : [["", "no broker account yet"]]}
                value={scope ?? ""}
                onChange={(event) => setPicked(event.target.value || null)}
              />
            </Field>
            <Field label="Range">
              <Select
                name="range"
                id="perf-range"
                options={RANGES}
                value={range}
                onChange={(event) => setRange(event.target.value)}
              />
            </Field>
          </form>
        </div>
        {scope ? null : (
          <p className="muted">Open a broker account and trade: its performance shows here.</p>
        )}
      </div>
      {scope ? <Report key={`${scope}|${range}`} scope={scope} start={rangeStart(range)} /> : null}
    </section>
  );
}

/** The API path of a scope value ("account:3" -> /analytics/accounts/3) and its query. */
function target(scope: string): { path: string; query: Record<string, string> } {
  const [kind, id = ""] = scope.split(":");
  if (kind === "account") return { path: `/analytics/accounts/${id}`, query: {} };
  if (kind === "subscription") return { path: `/analytics/subscriptions/${id}`, query: {} };
  return { path: "/analytics/me", query: { currency: id } };
}

function Report({ scope, start }: { scope: string; start: string | undefined }) {
  const { api } = useClients();
  const subscriptions = useSubscriptions().data ?? [];
  const subscription = scope.startsWith("subscription:")
    ? subscriptions.find((s) => `subscription:${s.id}` === scope)
    : undefined;
  const { path, query } = target(scope);
  const params = { ...query, from: start };
  const metrics = useQuery({
    queryKey: [...keys.analytics, scope, "metrics", start],
    queryFn: () => api.get<Metrics>(`${path}/metrics`, params),
  });
  const curve = useQuery({
    queryKey: [...keys.analytics, scope, "equity", start],
    queryFn: () => api.get<Curve>(`${path}/equity`, { ...params, timeframe: "1h" }),
  });
  if (routeMissing(metrics.error)) return <NotAvailable what="Performance" />;
  const m = metrics.data;
  const flags = [...new Set([...(m?.flags ?? []), ...(curve.data?.flags ?? [])])];
  return (
    <>
      <ErrorBox error={metrics.error ?? curve.error} />
      <Flags flags={flags} />
      <div className="perf-grid">
        <div className="card perf-chart">
          <div className="card-head">
            <h2>Equity and drawdown</h2>
            <span className="spacer" />
            <span className="muted small">
              {m ? `${day(m.start)} to ${day(m.end)} · ${m.scope.currency}` : ""}
            </span>
          </div>
          <CurveChart points={curve.data?.points} id="equity-chart" />
        </div>
        <div className="card" id="perf-metrics">
          <h2>Figures</h2>
          {m ? <Figures m={m} /> : <p className="muted">Loading...</p>}
        </div>
      </div>
      {subscription && m ? (
        <LiveVsBacktest subscription={subscription} start={m.start} end={m.end} />
      ) : null}
      <div className="card" id="perf-monthly">
        <h2>Monthly returns</h2>
        {m ? <MonthlyReturns months={m.monthly} /> : null}
      </div>
      <ClosedTrades path={path} query={params} scope={scope} />
    </>
  );
}

function ClosedTrades({
  path,
  query,
  scope,
}: {
  path: string;
  query: Record<string, string | undefined>;
  scope: string;
}) {
  const { api } = useClients();
  const [offset, setOffset] = useState(0);
  const trades = useQuery({
    queryKey: [...keys.analytics, scope, "trades", query.from, offset],
    queryFn: () => api.get<Trades>(`${path}/trades`, { ...query, limit: TRADES_PAGE, offset }),
    placeholderData: keepPreviousData,
  });
  const items = trades.data?.items;
  return (
    <div className="card" id="perf-trades">
      <h2>Closed trades</h2>
      <ErrorBox error={trades.error} />
      <div className="scroll">
        <table className="grid" id="closed-trades">
          <thead>
            <tr>
              <th>Symbol</th>
              <th>Side</th>
              <th className="num">Qty</th>
              <th className="p3">Entry</th>
              <th className="num p2">Entry price</th>
              <th className="p3">Exit</th>
              <th className="num p2">Exit price</th>
              <th className="num p4">Charges</th>
              <th className="num">Net P&L</th>
              <th className="num p2">Return</th>
              <th className="p4">Held</th>
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={11} className="muted">
                  No round trip closed in this range.
                </td>
              </tr>
            ) : (
              items?.map((t, index) => (
                <tr key={`${t.entry_time}-${t.symbol}-${index}`}>
                  <td>{t.symbol}</td>
                  <td className={t.side === "BUY" ? "up" : "down"}>
                    {t.side === "BUY" ? "LONG" : "SHORT"}
                  </td>
                  <td className="num">{qty(t.quantity)}</td>
                  <td className="small nowrap p3">{time(t.entry_time)}</td>
                  <td className="num p2">{price(t.entry_price)}</td>
                  <td className="small nowrap p3">{time(t.exit_time)}</td>
                  <td className="num p2">{price(t.exit_price)}</td>
                  <td className="num p4">{money(t.charges)}</td>
                  <td className={`num ${pnlClass(t.net_pnl)}`}>{money(t.net_pnl)}</td>
                  <td className={`num p2 ${pnlClass(t.return_fraction)}`}>
                    {pct(t.return_fraction)}
                  </td>
                  <td className="small p4">{duration(t.holding_seconds)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={trades.data} size={TRADES_PAGE} go={setOffset} />
    </div>
  );
}
