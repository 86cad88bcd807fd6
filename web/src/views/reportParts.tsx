/**
 * Parts of a performance report shown by the Performance and Backtests pages: the figures
 * (period and round-trip statistics), monthly returns and the flags spelt out. The shapes
 * are those of GET /analytics/.../metrics and of a backtest report's `metrics`.
 */
import { useMemo } from "react";
import { money, pnlClass } from "../format";

export interface Scope {
  kind: string;
  id: number | null;
  currency: string;
  capital: string;
}

export interface RoundTrip {
  broker_account_id: number;
  symbol: string;
  product: string;
  side: string;
  quantity: string;
  entry_time: string;
  entry_price: string;
  exit_time: string | null;
  exit_price: string | null;
  gross_pnl: string;
  charges: string;
  /** Absent from a backtest report's trips (see netPnl). */
  net_pnl?: string;
  return_fraction: number | null;
  holding_seconds: number | null;
}

export interface Drawdown {
  depth: number;
  peak: string;
  trough: string;
  recovery: string | null;
  duration_days: number;
}

export interface Metrics {
  scope: Scope;
  start: string;
  end: string;
  initial_equity: string;
  final_equity: string;
  pnl: string;
  charges: string;
  period: {
    periods: number;
    total_return: number | null;
    annual_return: number | null;
    annual_volatility: number | null;
    sharpe: number | null;
    sortino: number | null;
    calmar: number | null;
    max_drawdown: Drawdown | null;
    exposure: number | null;
  };
  trades: {
    count: number;
    open_trades: number;
    wins: number;
    losses: number;
    win_rate: number | null;
    profit_factor: number | null;
    average_win: string | null;
    average_loss: string | null;
    expectancy: string | null;
    charges: string;
    average_holding_seconds: number | null;
    best: RoundTrip | null;
    worst: RoundTrip | null;
  };
  monthly: { year: number; month: number; month_return: number; pnl: string }[];
  flags: string[];
}

export const FLAG_TEXT: Record<string, string> = {
  short_period: "Under a quarter of a year of returns: annual return and Calmar are withheld.",
  few_trades: "Fewer than 30 closed round trips: trade statistics are a rough guide.",
  no_returns: "No daily return in this range yet.",
  equity_not_positive: "A day started at zero or negative equity and has no return.",
  prices_unavailable: "Prices could not be read: open positions are marked at their fill prices.",
};

export const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** A round trip's P&L after charges: given by the API, or gross less charges (a backtest
 * report's trips carry only those two), exactly, on decimal strings. */
export function netPnl(trip: Pick<RoundTrip, "gross_pnl" | "charges"> & { net_pnl?: string }) {
  if (trip.net_pnl !== undefined) return trip.net_pnl;
  const places = (x: string) => (x.split(".")[1] ?? "").length;
  const scale = Math.max(places(trip.gross_pnl), places(trip.charges));
  const scaled = (x: string) => {
    const [whole = "0", fraction = ""] = x.replace(/^-/, "").split(".");
    const n = BigInt(whole + fraction.padEnd(scale, "0"));
    return x.startsWith("-") ? -n : n;
  };
  const n = scaled(trip.gross_pnl) - scaled(trip.charges);
  const digits = (n < 0n ? -n : n).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return n < 0n ? `-${text}` : text;
}

/** The flags of a report, in words, above it. */
export function Flags({ flags }: { flags: string[] }) {
  if (!flags.length) return null;
  return (
    <div className="notice perf-flags">
      {flags.map((f) => (
        <p key={f} data-flag={f}>
          {FLAG_TEXT[f] ?? f.replace(/_/g, " ")}
        </p>
      ))}
    </div>
  );
}

export function pct(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "-"
    : `${(value * 100).toFixed(digits)}%`;
}

export function ratio(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(2);
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

export function day(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleDateString("en-CA") : "-";
}

export function Figures({ m }: { m: Metrics }) {
  const p = m.period;
  const t = m.trades;
  const dd = p.max_drawdown;
  const rows: [string, string, string?][] = [
    ["P&L", money(m.pnl), pnlClass(m.pnl)],
    ["Equity", `${money(m.initial_equity)} → ${money(m.final_equity)}`],
    ["Total return", pct(p.total_return), pnlClass(p.total_return)],
    ["Annual return", pct(p.annual_return), pnlClass(p.annual_return)],
    ["Volatility (annual)", pct(p.annual_volatility)],
    ["Sharpe", ratio(p.sharpe)],
    ["Sortino", ratio(p.sortino)],
    ["Calmar", ratio(p.calmar)],
    [
      "Max drawdown",
      dd
        ? `${pct(dd.depth)} (${day(dd.peak)} → ${day(dd.trough)}, ${dd.duration_days.toFixed(0)} d${dd.recovery ? "" : ", not recovered"})`
        : "-",
      dd ? "down" : "",
    ],
    ["Exposure", pct(p.exposure, 0)],
    ["Round trips", `${t.count} closed${t.open_trades ? `, ${t.open_trades} open` : ""}`],
    ["Win rate", `${pct(t.win_rate, 1)} (${t.wins} won, ${t.losses} lost)`],
    ["Profit factor", ratio(t.profit_factor)],
    ["Average win / loss", `${money(t.average_win)} / ${money(t.average_loss)}`],
    ["Expectancy", money(t.expectancy), pnlClass(t.expectancy)],
    ["Average holding", duration(t.average_holding_seconds)],
    ["Charges paid", money(m.charges)],
    [
      "Best trade",
      t.best ? `${t.best.symbol} ${money(netPnl(t.best))}` : "-",
      pnlClass(t.best && netPnl(t.best)),
    ],
    [
      "Worst trade",
      t.worst ? `${t.worst.symbol} ${money(netPnl(t.worst))}` : "-",
      pnlClass(t.worst && netPnl(t.worst)),
    ],
  ];
  return (
    <dl className="summary figures">
      {rows.map(([label, value, cls]) => (
        <div key={label} className="figure">
          <dt>{label}</dt>
          <dd className={cls || undefined}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function MonthlyReturns({ months }: { months: Metrics["monthly"] }) {
  const years = useMemo(() => {
    const byYear = new Map<number, Map<number, number>>();
    for (const m of months) {
      if (!byYear.has(m.year)) byYear.set(m.year, new Map());
      byYear.get(m.year)!.set(m.month, m.month_return);
    }
    return [...byYear.entries()].sort((a, b) => b[0] - a[0]);
  }, [months]);
  if (!years.length) return <p className="muted">No month with a return yet.</p>;
  return (
    <div className="scroll">
      <table className="grid monthly" id="monthly-returns">
        <thead>
          <tr>
            <th>Year</th>
            {MONTHS.map((name) => (
              <th key={name} className="num">
                {name}
              </th>
            ))}
            <th className="num">Year</th>
          </tr>
        </thead>
        <tbody>
          {years.map(([year, byMonth]) => {
            const compounded = [...byMonth.values()].reduce((acc, r) => acc * (1 + r), 1) - 1;
            return (
              <tr key={year}>
                <td>{year}</td>
                {MONTHS.map((name, index) => {
                  const r = byMonth.get(index + 1);
                  return (
                    <td key={name} className={`num ${pnlClass(r)}`}>
                      {r === undefined ? "" : pct(r)}
                    </td>
                  );
                })}
                <td className={`num ${pnlClass(compounded)}`}>
                  <strong>{pct(compounded)}</strong>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
