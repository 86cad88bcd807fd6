/**
 * The chart card: the selected symbol, its last price, the timeframe buttons, and the
 * user's fills of the symbol (of the selected account) marked on their bars, live.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useClients, useSelection } from "../context";
import { price } from "../format";
import { useChannels } from "../liveHooks";
import { keys } from "../server/keys";
import { DEFAULT_PREFERENCES, usePreferences } from "../server/preferences";
import { useChartFills, useInstrument } from "../server/queries";
import { ClosedNote } from "../ui/MarketState";
import { useEffectiveTheme } from "../theme";
import { BellIcon } from "./AlertBell";
import { CandleChart, TIMEFRAMES } from "./candleChart";
import { PriceAlertDialog } from "./PriceAlertForm";

const TIMEFRAME_KEY = "algotrade.timeframe";

export function ChartPanel() {
  const { api, live } = useClients();
  const { symbol, accountId } = useSelection();
  const queryClient = useQueryClient();
  const fills = useChartFills(accountId, symbol).data?.items;
  const [marked, setMarked] = useState({ markers: 0, fills: 0 });
  const [alerting, setAlerting] = useState(false);
  const theme = useEffectiveTheme((usePreferences().data ?? DEFAULT_PREFERENCES).theme);
  const [timeframe, setTimeframe] = useState(() => sessionStorage.getItem(TIMEFRAME_KEY) ?? "1m");
  const [last, setLast] = useState<{ price: number | null; direction: string }>({
    price: null,
    direction: "",
  });
  const [notice, setNotice] = useState<string | null>(null);
  const exchange = useInstrument(symbol).data?.exchange;
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<CandleChart | null>(null);

  useEffect(() => {
    const created = new CandleChart(host.current!, api, live, {
      last: (value, rising) =>
        setLast((prev) => ({
          price: value,
          direction: rising === null ? prev.direction : rising ? "up" : "down",
        })),
      notice: setNotice,
      marked: (markers, fills) => setMarked({ markers, fills }),
    });
    chart.current = created;
    return () => {
      chart.current = null;
      created.dispose();
    };
  }, [api, live]);
  useEffect(() => {
    chart.current?.show(symbol, timeframe);
  }, [symbol, timeframe, api, live]);
  useEffect(() => {
    chart.current?.setTheme(theme);
  }, [theme, api, live]);
  useEffect(() => {
    chart.current?.setFills(fills ?? []);
  }, [fills, api, live]);
  // A fill of this symbol (the event names no account): the marked fills are read again.
  useChannels(["fills"], (data) => {
    if ((data as { symbol?: string }).symbol !== symbol) return;
    void queryClient.invalidateQueries({ queryKey: keys.chartFills(accountId, symbol) });
  });

  return (
    <section className="card chart">
      <div className="card-head">
        <h2>{`${symbol} · ${timeframe}`}</h2>
        <span className={`last-price num ${last.direction}`}>
          {last.price === null ? "" : price(last.price)}
        </span>
        <ClosedNote exchange={exchange} />
        <button
          type="button"
          className="icon price-alert"
          id="chart-price-alert"
          title={`Price alert on ${symbol}`}
          aria-label={`Price alert on ${symbol}`}
          onClick={() => setAlerting(true)}
        >
          <BellIcon size={14} />
        </button>
        <span className="spacer" />
        <div className="segmented" role="group" aria-label="Timeframe">
          {TIMEFRAMES.map(([tf]) => (
            <button
              key={tf}
              type="button"
              className="tf"
              data-tf={tf}
              aria-pressed={tf === timeframe}
              onClick={() => {
                sessionStorage.setItem(TIMEFRAME_KEY, tf);
                setTimeframe(tf);
              }}
            >
              {tf}
            </button>
          ))}
        </div>
      </div>
      <p className="muted chart-status" hidden={notice === null}>
        {notice}
      </p>
      {alerting ? (
        <PriceAlertDialog symbol={symbol} last={last.price} close={() => setAlerting(false)} />
      ) : null}
      <div
        className="chart-host"
        id="chart"
        data-fill-marks={marked.markers}
        data-fills-marked={marked.fills}
        ref={host}
      />
    </section>
  );
}
