/**
 * A subscription's live results beside a backtest of the same period and parameters: the
 * strategy, its parameters, the timeframe, the capital allocation and the sizing are the
 * subscription's, the range is the live report's, and the run takes the trader's own risk
 * limits (as live orders do). The figures side by side with their difference, and the two
 * equity curves. Shown on the Performance page (a subscription's report) and on the
 * Backtests page (a run of a subscription's strategy, symbol and timeframe).
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useClients } from "../context";
import { money, pnlClass } from "../format";
import { keys } from "../server/keys";
import type { Subscription } from "../types";
import { ErrorBox } from "../ui/errors";
import { Field, Select } from "../ui/fields";
import { CurveChart } from "./CurveChart";
import type { CurvePoint } from "./equityChart";
import { day, pct, ratio, type Metrics } from "./reportParts";
import { useCatalog } from "../server/queries";
import { strategyTitle } from "./strategyTitle";

interface RunOut {
  id: number;
  status: string;
  progress: number;
  error: string | null;
  symbol: string;
  result: { metrics?: Metrics; equity?: { time: string; equity: number }[] } | null;
}

const ACTIVE = new Set(["queued", "running"]);

/** Equity points with the drawdown from the running peak, as the chart takes them. */
function runCurve(points: { time: string; equity: number }[] | undefined): CurvePoint[] {
  let peak = -Infinity;
  return (points ?? []).map((p) => {
    peak = Math.max(peak, p.equity);
    return { ts: p.time, equity: String(p.equity), drawdown: peak > 0 ? p.equity / peak - 1 : 0 };
  });
}

/**
 * The body of a backtest of `sub` over the live period [start, end] on one of its symbols.
 * Live, the strategy read its warm-up bars from history before its first candle; the run
 * reads them too (the candles before `start`), so its first signal can fall at the live
 * period's start and not later.
 */
export function backtestOf(sub: Subscription, symbol: string, start: string, end: string) {
  return {
    strategy: sub.strategy,
    params: sub.params,
    symbol,
    timeframe: sub.timeframe,
    start,
    end,
    settings: {
      capital: String(sub.capital_allocation),
      sizing_method: sub.sizing_method,
      sizing_params: sub.sizing_params ?? {},
      risk: "mine",
    },
  };
}

export function LiveVsBacktest({
  subscription,
  start,
  end,
  run: initialRun = null,
}: {
  subscription: Subscription;
  /** The live range (ISO moments): the report's own, or the run's. */
  start: string;
  end: string;
  /** A run already made (the Backtests page), else one is made on request. */
  run?: number | null;
}) {
  const { api } = useClients();
  const strategy = useCatalog().data?.strategies.find((s) => s.name === subscription.strategy);
  const [runId, setRunId] = useState<number | null>(initialRun);
  const [symbol, setSymbol] = useState(subscription.symbols[0] ?? "");
  const scope = `subscription:${subscription.id}`;
  const range = { from: start, to: end };
  const path = `/analytics/subscriptions/${subscription.id}`;
  const live = useQuery({
    queryKey: [...keys.analytics, scope, "compare", start, end],
    queryFn: () => api.get<Metrics>(`${path}/metrics`, range),
  });
  const liveCurve = useQuery({
    queryKey: [...keys.analytics, scope, "compare-equity", start, end],
    queryFn: () =>
      api.get<{ points: CurvePoint[] }>(`${path}/equity`, { ...range, timeframe: "1h" }),
  });
  const run = useQuery({
    queryKey: [...keys.backtests, "run", runId],
    queryFn: () => api.get<RunOut>(`/backtests/${runId}`),
    enabled: runId !== null,
    refetchInterval: (query) => (ACTIVE.has(query.state.data?.status ?? "") ? 1000 : false),
    staleTime: (query) => (ACTIVE.has(query.state.data?.status ?? "") ? 0 : Infinity),
  });
  const submit = useMutation({
    mutationFn: () => api.post<RunOut>("/backtests", backtestOf(subscription, symbol, start, end)),
    onSuccess: (made) => setRunId(made.id),
  });
  const backtestPoints = useMemo(() => runCurve(run.data?.result?.equity), [run.data]);
  const b = run.data?.result?.metrics;
  const m = live.data;
  const several = subscription.symbols.length > 1;

  return (
    <div className="card" id="live-vs-backtest" data-run={runId ?? ""} data-end={end}>
      <div className="card-head wrap-head">
        <h2>Live against a backtest</h2>
        <span className="muted small wrap">
          {`${strategy ? strategyTitle(strategy) : subscription.strategy} · ${subscription.timeframe} · ${day(start)} to ${day(end)}`}
        </span>
        <span className="spacer" />
        {runId === null ? (
          <form
            className="inline"
            onSubmit={(event) => {
              event.preventDefault();
              submit.mutate();
            }}
          >
            {several ? (
              <Field label="Symbol">
                <Select
                  name="compare-symbol"
                  options={subscription.symbols.map((s) => [s, s])}
                  value={symbol}
                  onChange={(event) => setSymbol(event.target.value)}
                />
              </Field>
            ) : null}
            <button
              type="submit"
              className="small primary"
              id="compare-backtest"
              disabled={submit.isPending}
            >
              Backtest this period
            </button>
          </form>
        ) : (
          <button type="button" className="small secondary" onClick={() => setRunId(null)}>
            Another run
          </button>
        )}
      </div>
      <p className="muted small">
        The backtest takes the subscription&apos;s parameters, timeframe, capital allocation and
        sizing, and your risk limits, over the same period (reading the strategy&apos;s warm-up from
        the candles before it, as live did).
        {several
          ? " Live figures cover all the subscription's symbols; the backtest runs one."
          : ""}
      </p>
      <ErrorBox error={submit.error ?? live.error ?? run.error} />
      {run.data && ACTIVE.has(run.data.status) ? (
        <p className="muted" id="compare-progress">
          {`Backtest #${run.data.id} ${run.data.status}`}{" "}
          <progress max={1} value={run.data.progress} />
        </p>
      ) : null}
      {run.data && !ACTIVE.has(run.data.status) && !b ? (
        <p className="error">{run.data.error ?? `Backtest #${run.data.id} ${run.data.status}.`}</p>
      ) : null}
      {m ? (
        <CompareTable live={m} backtest={b} runId={runId} />
      ) : (
        <p className="muted">Loading...</p>
      )}
      <div className="side-by-side">
        <div>
          <h3>Live equity</h3>
          <CurveChart points={liveCurve.data?.points} id="compare-live-equity" />
        </div>
        <div>
          <h3>{runId === null ? "Backtest equity" : `Backtest #${runId} equity`}</h3>
          {b ? (
            <CurveChart points={backtestPoints} id="compare-backtest-equity" />
          ) : (
            <p className="muted">
              {runId === null ? "No backtest yet." : "Waiting for the backtest..."}
            </p>
          )}
        </div>
      </div>
    </div>
  );
}

type Row = [label: string, live: string, backtest: string, diff: string, cls?: string];

function diffNumber(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined ? null : b - a;
}

function points(value: number | null): string {
  return value === null ? "-" : `${value >= 0 ? "+" : ""}${(value * 100).toFixed(2)} pts`;
}

function CompareTable({
  live,
  backtest,
  runId,
}: {
  live: Metrics;
  backtest: Metrics | undefined;
  runId: number | null;
}) {
  const b = backtest;
  const pnlDiff = b ? Number(b.pnl) - Number(live.pnl) : null;
  const ddLive = live.period.max_drawdown?.depth ?? null;
  const ddBack = b ? (b.period.max_drawdown?.depth ?? null) : null;
  const rows: Row[] = [
    ["Starting equity", money(live.initial_equity), b ? money(b.initial_equity) : "-", ""],
    ["Final equity", money(live.final_equity), b ? money(b.final_equity) : "-", ""],
    [
      "P&L",
      money(live.pnl),
      b ? money(b.pnl) : "-",
      pnlDiff === null ? "-" : money(pnlDiff.toFixed(2)),
      pnlClass(live.pnl),
    ],
    [
      "Total return",
      pct(live.period.total_return),
      pct(b?.period.total_return),
      points(diffNumber(live.period.total_return, b?.period.total_return)),
    ],
    ["Max drawdown", pct(ddLive), b ? pct(ddBack) : "-", points(diffNumber(ddLive, ddBack))],
    [
      "Sharpe",
      ratio(live.period.sharpe),
      ratio(b?.period.sharpe),
      ratio(diffNumber(live.period.sharpe, b?.period.sharpe)),
    ],
    [
      "Round trips",
      String(live.trades.count),
      b ? String(b.trades.count) : "-",
      b ? String(b.trades.count - live.trades.count) : "-",
    ],
    [
      "Win rate",
      pct(live.trades.win_rate, 1),
      pct(b?.trades.win_rate, 1),
      points(diffNumber(live.trades.win_rate, b?.trades.win_rate)),
    ],
    [
      "Profit factor",
      ratio(live.trades.profit_factor),
      ratio(b?.trades.profit_factor),
      ratio(diffNumber(live.trades.profit_factor, b?.trades.profit_factor)),
    ],
    ["Charges", money(live.charges), b ? money(b.charges) : "-", ""],
  ];
  return (
    <div className="scroll">
      <table className="grid" id="compare-figures">
        <thead>
          <tr>
            <th>Figure</th>
            <th className="num">Live</th>
            <th className="num">{runId === null ? "Backtest" : `Backtest #${runId}`}</th>
            <th className="num p2">Backtest - live</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, l, bt, diff, cls]) => (
            <tr key={label} data-figure={label}>
              <td>{label}</td>
              <td className={`num live ${cls ?? ""}`}>{l}</td>
              <td className="num backtest">{bt}</td>
              <td className="num p2">{diff}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
