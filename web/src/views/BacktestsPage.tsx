/**
 * Backtests: run a catalog strategy over stored candles (POST /backtests; the parameter form
 * from the strategy's JSON Schema), follow the runs' progress (GET /backtests, re-read every
 * second while one is queued or running), open a run's report (GET /backtests/{id}: the
 * conventions, the equity curve over its drawdown, the figures, monthly returns and the
 * round trips), put two runs side by side, and subscribe with a run's parameters.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useRef, useState } from "react";
import { useClients, useSelection } from "../context";
import { money, pnlClass, price, qty, time } from "../format";
import { ParamsForm, type ParamsFormHandle } from "../params/ParamsForm";
import { keys } from "../server/keys";
import { useCatalog, useSubscriptions } from "../server/queries";
import type { Page, Strategy } from "../types";
import { ErrorBox, NotAvailable, invalid, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";
import { Pager } from "../ui/Pager";
import { CurveChart } from "./CurveChart";
import type { CurvePoint } from "./equityChart";
import { LiveVsBacktest } from "./LiveVsBacktest";
import { Figures, Flags, MonthlyReturns, duration, type Metrics } from "./reportParts";
import { strategyTitle } from "./strategyTitle";
import { ALL_TIMEFRAMES, SubscriptionForm } from "./SubscriptionForm";

interface Run {
  id: number;
  kind: "backtest" | "sweep" | string;
  status: "queued" | "running" | "done" | "failed" | "cancelled" | string;
  strategy: string;
  symbol: string;
  timeframe: string;
  progress: number;
  bars: number | null;
  error: string | null;
  /** What was submitted: the strategy's request (parameters, settings) and the range. */
  request: {
    request?: { params?: Record<string, unknown>; settings?: Record<string, unknown> };
    start?: string;
    end?: string;
    [key: string]: unknown;
  };
  created_at: string;
  finished_at: string | null;
}

interface BacktestTrade {
  symbol: string;
  side: string;
  quantity: string;
  entry_time: string;
  entry_price: string;
  exit_time: string | null;
  exit_price: string | null;
  pnl: string;
  charges: string;
  exit_reason: string;
  holding_seconds: number | null;
}

interface Report {
  conventions?: Record<string, unknown>;
  run_card?: Record<string, unknown>;
  trades?: BacktestTrade[];
  equity?: { time: string; equity: number }[];
  metrics?: Metrics;
  // a sweep's result
  rank_by?: string;
  points?: ({ params: Record<string, unknown> } & Record<string, unknown>)[];
}

interface RunDetail extends Run {
  result: Report | null;
}

/** The parameters a run was made with. */
function runParams(run: Run): Record<string, unknown> {
  return run.request.request?.params ?? {};
}

const RUNS_PAGE = 10;
const TRADES_PAGE = 25;
const ACTIVE = new Set(["queued", "running"]);

function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

/** A day's start (UTC) as the API's ISO moment; the end day runs to its last second (or now). */
function moment(dayText: string, end: boolean): string {
  if (!end) return `${dayText}T00:00:00Z`;
  const close = new Date(`${dayText}T23:59:59Z`);
  return (close.getTime() > Date.now() ? new Date() : close).toISOString();
}

/** Equity points with the drawdown from the running peak, as the chart takes them. */
function curve(points: { time: string; equity: number }[] | undefined): CurvePoint[] | undefined {
  if (!points) return undefined;
  let peak = -Infinity;
  return points.map((p) => {
    peak = Math.max(peak, p.equity);
    return {
      ts: p.time,
      equity: String(p.equity),
      drawdown: peak > 0 ? p.equity / peak - 1 : 0,
    };
  });
}

export default function BacktestsPage() {
  const [open, setOpen] = useState<number[]>([]);
  const [subscribeFrom, setSubscribeFrom] = useState<RunDetail | null>(null);
  const show = (id: number, compare: boolean) =>
    setOpen((held) =>
      held.includes(id) ? held.filter((x) => x !== id) : compare ? [...held.slice(-1), id] : [id],
    );
  return (
    <section className="backtests" id="backtests">
      <NewBacktest opened={(id) => setOpen([id])} />
      <Runs open={open} show={show} />
      {open.length ? (
        <div className={open.length > 1 ? "side-by-side" : undefined} id="run-reports">
          {open.map((id) => (
            <RunReport
              key={id}
              id={id}
              close={() => setOpen((held) => held.filter((x) => x !== id))}
              subscribe={setSubscribeFrom}
            />
          ))}
        </div>
      ) : null}
      {subscribeFrom ? (
        <SubscribeFrom run={subscribeFrom} close={() => setSubscribeFrom(null)} />
      ) : null}
    </section>
  );
}

function NewBacktest({ opened }: { opened: (id: number) => void }) {
  const { api } = useClients();
  const { symbol: selected } = useSelection();
  const queryClient = useQueryClient();
  const toast = useToast();
  const catalog = useCatalog();
  const strategies = catalog.data?.strategies ?? [];
  const [picked, setPicked] = useState<string | null>(null);
  const strategy = strategies.find((s) => s.name === picked) ?? strategies[0];
  const timeframes = strategy?.timeframes?.length ? strategy.timeframes : ALL_TIMEFRAMES;
  const [symbol, setSymbol] = useState(selected);
  const [pickedTimeframe, setTimeframe] = useState("15m");
  const timeframe = timeframes.includes(pickedTimeframe)
    ? pickedTimeframe
    : (timeframes[0] ?? "15m");
  const [from, setFrom] = useState(() => daysAgo(5));
  const [to, setTo] = useState(() => daysAgo(0));
  const [capital, setCapital] = useState("100000");
  const [fill, setFill] = useState("next_open");
  const [direction, setDirection] = useState("long_short");
  const [slippage, setSlippage] = useState("0");
  const [charges, setCharges] = useState(true);
  const params = useRef<ParamsFormHandle>(null);

  const submit = useMutation({
    mutationFn: (values: Record<string, unknown>) =>
      api.post<Run>("/backtests", {
        strategy: strategy?.name,
        params: values,
        symbol: symbol.trim().toUpperCase(),
        timeframe,
        start: moment(from, false),
        end: moment(to, true),
        settings: {
          capital,
          fill,
          direction,
          charges,
          slippage_bps: slippage || "0",
        },
      }),
    onSuccess: (run) => {
      toast(`Backtest #${run.id} started`);
      void queryClient.invalidateQueries({ queryKey: keys.backtests });
      opened(run.id);
    },
  });
  if (routeMissing(catalog.error)) return <NotAvailable what="Strategy catalog" />;
  const error = submit.error;

  return (
    <div className="card" id="new-backtest">
      <h2>New backtest</h2>
      <form
        id="backtest-form"
        onSubmit={(event) => {
          event.preventDefault();
          const values = params.current ? params.current.values() : {};
          if (values === null) return; // the form shows why
          submit.mutate(values);
        }}
      >
        <div className="row3">
          <Field label="Strategy">
            <Select
              name="strategy"
              options={strategies.map((s) => [s.name, strategyTitle(s)] as const)}
              value={strategy?.name ?? ""}
              onChange={(event) => setPicked(event.target.value)}
              {...invalid(error, "strategy")}
            />
          </Field>
          <Field label="Symbol">
            <input
              name="symbol"
              required
              maxLength={32}
              value={symbol}
              onChange={(event) => setSymbol(event.target.value)}
              {...invalid(error, "symbol")}
            />
          </Field>
          <Field label="Timeframe">
            <Select
              name="timeframe"
              options={timeframes}
              value={timeframe}
              onChange={(event) => setTimeframe(event.target.value)}
              {...invalid(error, "timeframe")}
            />
          </Field>
          <Field label="From">
            <input
              name="from"
              type="date"
              required
              value={from}
              max={to}
              onChange={(event) => setFrom(event.target.value)}
              {...invalid(error, "start")}
            />
          </Field>
          <Field label="To">
            <input
              name="to"
              type="date"
              required
              value={to}
              min={from}
              onChange={(event) => setTo(event.target.value)}
              {...invalid(error, "end")}
            />
          </Field>
          <Field label="Capital">
            <input
              name="capital"
              type="number"
              min="1"
              step="any"
              required
              value={capital}
              onChange={(event) => setCapital(event.target.value)}
              {...invalid(error, "settings.capital")}
            />
          </Field>
          <Field label="Fill" hint="the signal is taken at a bar's close">
            <Select
              name="fill"
              options={[
                ["next_open", "next bar's open"],
                ["close", "the signal bar's close"],
              ]}
              value={fill}
              onChange={(event) => setFill(event.target.value)}
            />
          </Field>
          <Field label="Direction">
            <Select
              name="direction"
              options={[
                ["long_short", "long and short"],
                ["long_only", "long only"],
              ]}
              value={direction}
              onChange={(event) => setDirection(event.target.value)}
            />
          </Field>
          <Field label="Slippage (bps)">
            <input
              name="slippage_bps"
              type="number"
              min="0"
              max="1000"
              step="any"
              value={slippage}
              onChange={(event) => setSlippage(event.target.value)}
              {...invalid(error, "settings.slippage_bps")}
            />
          </Field>
        </div>
        <label className="choice">
          <input
            type="checkbox"
            name="charges"
            checked={charges}
            onChange={(event) => setCharges(event.target.checked)}
          />
          Charges as the paper broker takes them
        </label>
        {strategy ? (
          <fieldset>
            <legend>{`Parameters of ${strategyTitle(strategy)}`}</legend>
            <ParamsForm
              key={strategy.name}
              ref={params}
              schema={strategy.params_schema ?? strategy.parameters ?? strategy.schema}
              defaults={strategy.defaults}
              prefix="params"
              serverError={error}
            />
          </fieldset>
        ) : null}
        <ErrorBox error={error} />
        <div className="actions">
          <button
            type="submit"
            className="primary"
            id="run-backtest"
            disabled={submit.isPending || !strategy}
          >
            Run backtest
          </button>
        </div>
      </form>
    </div>
  );
}

function Runs({ open, show }: { open: number[]; show: (id: number, compare: boolean) => void }) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const [offset, setOffset] = useState(0);
  const runs = useQuery({
    queryKey: [...keys.backtests, "list", offset],
    queryFn: () => api.get<Page<Run>>("/backtests", { limit: RUNS_PAGE, offset }),
    placeholderData: keepPreviousData,
    // Progress: re-read every second while a run is under way.
    refetchInterval: (query) =>
      query.state.data?.items.some((r) => ACTIVE.has(r.status)) ? 1000 : false,
  });
  const act = useMutation({
    mutationFn: ({ id, action }: { id: number; action: "cancel" | "delete" }) =>
      action === "cancel"
        ? api.post(`/backtests/${id}/cancel`, {})
        : api.delete(`/backtests/${id}`),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.backtests }),
  });
  if (routeMissing(runs.error)) return <NotAvailable what="Backtests" />;
  const items = runs.data?.items;
  return (
    <div className="card" id="backtest-runs">
      <h2>Runs</h2>
      <ErrorBox error={runs.error ?? act.error} />
      <div className="scroll">
        <table className="grid" id="runs">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Strategy</th>
              <th>Symbol</th>
              <th className="p3">Range</th>
              <th>Status</th>
              <th className="num p2">Bars</th>
              <th className="p4">Started</th>
              <th className="end" />
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={8} className="muted">
                  No backtest yet: run one above.
                </td>
              </tr>
            ) : (
              items?.map((run) => (
                <tr
                  key={run.id}
                  data-run={run.id}
                  data-status={run.status}
                  className={open.includes(run.id) ? "selected" : undefined}
                >
                  <td className="num">{run.id}</td>
                  <td>
                    {run.strategy}
                    {run.kind === "sweep" ? <span className="tag">sweep</span> : null}
                  </td>
                  <td>{`${run.symbol} ${run.timeframe}`}</td>
                  <td className="small p3">
                    {`${String(run.request.start ?? "").slice(0, 10)} to ${String(run.request.end ?? "").slice(0, 10)}`}
                  </td>
                  <td>
                    <span className={`status status-${run.status}`} title={run.error ?? undefined}>
                      {run.status}
                    </span>
                    {ACTIVE.has(run.status) ? (
                      <progress max={1} value={run.progress} aria-label="progress" />
                    ) : null}
                  </td>
                  <td className="num p2">{run.bars ?? "-"}</td>
                  <td className="small nowrap p4">{time(run.created_at)}</td>
                  <td className="end nowrap">
                    {run.status === "done" ? (
                      <>
                        <button
                          type="button"
                          className="small open-run"
                          onClick={() => show(run.id, false)}
                        >
                          {open.includes(run.id) ? "Hide" : "Open"}
                        </button>{" "}
                        <button
                          type="button"
                          className="small secondary compare-run"
                          title="Open beside the run already open"
                          disabled={open.includes(run.id)}
                          onClick={() => show(run.id, true)}
                        >
                          Compare
                        </button>{" "}
                      </>
                    ) : null}
                    {ACTIVE.has(run.status) ? (
                      <button
                        type="button"
                        className="small danger"
                        disabled={act.isPending}
                        onClick={() => act.mutate({ id: run.id, action: "cancel" })}
                      >
                        Cancel
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="small icon"
                        title="Delete this run"
                        aria-label={`Delete run ${run.id}`}
                        disabled={act.isPending}
                        onClick={() =>
                          void confirm(
                            `Delete backtest #${run.id}?`,
                            "Its report is deleted with it.",
                            "Delete",
                          ).then((ok) => ok && act.mutate({ id: run.id, action: "delete" }))
                        }
                      >
                        ✕
                      </button>
                    )}
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={runs.data} size={RUNS_PAGE} go={setOffset} />
    </div>
  );
}

function RunReport({
  id,
  close,
  subscribe,
}: {
  id: number;
  close: () => void;
  subscribe: (run: RunDetail) => void;
}) {
  const { api } = useClients();
  const run = useQuery({
    queryKey: [...keys.backtests, "run", id],
    queryFn: () => api.get<RunDetail>(`/backtests/${id}`),
    // Re-read while under way; a finished run does not change.
    refetchInterval: (query) => (ACTIVE.has(query.state.data?.status ?? "") ? 1000 : false),
    staleTime: (query) => (ACTIVE.has(query.state.data?.status ?? "") ? 0 : Infinity),
  });
  const detail = run.data;
  const report = detail?.result;
  const points = useMemo(() => curve(report?.equity), [report]);
  const [comparing, setComparing] = useState(false);
  // A subscription of this run's strategy, symbol and timeframe: its live results compare.
  const live = useSubscriptions().data?.find(
    (s) =>
      detail !== undefined &&
      s.strategy === detail.strategy &&
      s.timeframe === detail.timeframe &&
      s.symbols.includes(detail.symbol),
  );
  const range = detail ? { start: detail.request.start, end: detail.request.end } : {};
  return (
    <div className="card run-report" id={`run-${id}`} data-run={id}>
      <div className="card-head">
        <h2>{`Backtest #${id}`}</h2>
        <span className="muted small wrap">
          {detail ? `${detail.strategy} · ${detail.symbol} ${detail.timeframe}` : ""}
        </span>
        <span className="spacer" />
        {detail && report?.metrics ? (
          <button type="button" className="small subscribe-run" onClick={() => subscribe(detail)}>
            Subscribe with these parameters
          </button>
        ) : null}
        {live && report?.metrics && range.start && range.end ? (
          <button
            type="button"
            className="small compare-live"
            aria-pressed={comparing}
            onClick={() => setComparing((held) => !held)}
          >
            {`Compare with live #${live.id}`}
          </button>
        ) : null}
        <button type="button" className="small secondary" onClick={close}>
          Close
        </button>
      </div>
      {comparing && live && range.start && range.end ? (
        <LiveVsBacktest subscription={live} start={range.start} end={range.end} run={id} />
      ) : null}
      <ErrorBox error={run.error} />
      {detail ? (
        <p className="small params">
          {Object.entries(runParams(detail))
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(" · ") || "default parameters"}
        </p>
      ) : null}
      {report?.conventions ? (
        <details className="conventions">
          <summary>Conventions and run card</summary>
          <dl className="summary">
            {Object.entries({ ...report.conventions, ...(report.run_card ?? {}) }).map(([k, v]) => (
              <div key={k} className="figure">
                <dt>{k.replace(/_/g, " ")}</dt>
                <dd className="small">{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
              </div>
            ))}
          </dl>
        </details>
      ) : null}
      {report?.points ? <SweepPoints report={report} /> : null}
      {report?.metrics ? (
        <>
          <Flags flags={report.metrics.flags ?? []} />
          <CurveChart points={points} id={`run-${id}-equity`} />
          <h3>Figures</h3>
          <Figures m={report.metrics} />
          <h3>Monthly returns</h3>
          <MonthlyReturns months={report.metrics.monthly ?? []} />
          <h3>Trades</h3>
          <Trades trades={report.trades ?? []} id={id} />
        </>
      ) : detail && !report ? (
        <p className="muted">{detail.error ?? `This run is ${detail.status}.`}</p>
      ) : null}
    </div>
  );
}

function Trades({ trades, id }: { trades: BacktestTrade[]; id: number }) {
  const [offset, setOffset] = useState(0);
  const shown = trades.slice(offset, offset + TRADES_PAGE);
  return (
    <>
      <div className="scroll">
        <table className="grid" id={`run-${id}-trades`}>
          <thead>
            <tr>
              <th>Side</th>
              <th className="num">Qty</th>
              <th className="p3">Entry</th>
              <th className="num p2">Entry price</th>
              <th className="p3">Exit</th>
              <th className="num p2">Exit price</th>
              <th className="num">P&L</th>
              <th className="num p4">Charges</th>
              <th className="p4">Exit by</th>
              <th className="p4">Held</th>
            </tr>
          </thead>
          <tbody>
            {shown.length === 0 ? (
              <tr>
                <td colSpan={10} className="muted">
                  No trade in this run.
                </td>
              </tr>
            ) : (
              shown.map((t, index) => (
                <tr key={`${t.entry_time}-${index}`}>
                  <td className={t.side === "BUY" ? "up" : "down"}>
                    {t.side === "BUY" ? "LONG" : "SHORT"}
                  </td>
                  <td className="num">{qty(t.quantity)}</td>
                  <td className="small nowrap p3">{time(t.entry_time)}</td>
                  <td className="num p2">{price(t.entry_price)}</td>
                  <td className="small nowrap p3">{time(t.exit_time)}</td>
                  <td className="num p2">{price(t.exit_price)}</td>
                  <td className={`num ${pnlClass(t.pnl)}`}>{money(t.pnl)}</td>
                  <td className="num p4">{money(t.charges)}</td>
                  <td className="small p4">{t.exit_reason || "-"}</td>
                  <td className="small p4">{duration(t.holding_seconds)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager
        page={{ items: shown, total: trades.length, limit: TRADES_PAGE, offset }}
        size={TRADES_PAGE}
        go={setOffset}
      />
    </>
  );
}

/** A sweep's grid points, best first by the metric it ranked on. */
function SweepPoints({ report }: { report: Report }) {
  const points = report.points ?? [];
  const columns = Object.keys(points[0] ?? {}).filter(
    (k) => k !== "params" && typeof points[0]?.[k] !== "object",
  );
  return (
    <div className="scroll">
      <table className="grid">
        <thead>
          <tr>
            <th>Parameters</th>
            {columns.map((c) => (
              <th key={c} className="num">
                {c === report.rank_by ? <strong>{c}</strong> : c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {points.map((p, index) => (
            <tr key={index}>
              <td className="small">
                {Object.entries(p.params)
                  .map(([k, v]) => `${k}=${String(v)}`)
                  .join(" ")}
              </td>
              {columns.map((c) => {
                const v = p[c];
                return (
                  <td key={c} className="num">
                    {typeof v === "number"
                      ? Math.abs(v) < 10
                        ? v.toFixed(3)
                        : v.toFixed(0)
                      : String(v ?? "-")}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function SubscribeFrom({ run, close }: { run: RunDetail; close: () => void }) {
  const catalog = useCatalog().data;
  const strategy: Strategy | undefined = catalog?.strategies.find((s) => s.name === run.strategy);
  const initial = useMemo(
    () => ({ params: runParams(run), symbol: run.symbol, timeframe: run.timeframe }),
    [run],
  );
  if (!strategy) return null;
  return (
    <div className="card subscribe" id="subscribe-from-backtest">
      <SubscriptionForm
        key={run.id}
        strategy={strategy}
        sizingSchemas={catalog?.sizingSchemas ?? null}
        close={close}
        initial={initial}
      />
    </div>
  );
}
