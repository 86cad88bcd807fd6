/** The chart card: the selected symbol, its last price and the timeframe buttons. */
import { useEffect, useRef, useState } from "react";
import { useClients, useSelection } from "../context";
import { price } from "../format";
import { DEFAULT_PREFERENCES, usePreferences } from "../server/preferences";
import { useInstrument } from "../server/queries";
import { ClosedNote } from "../ui/MarketState";
import { useEffectiveTheme } from "../theme";
import { CandleChart, TIMEFRAMES } from "./candleChart";

const TIMEFRAME_KEY = "algotrade.timeframe";

export function ChartPanel() {
  const { api, live } = useClients();
  const { symbol } = useSelection();
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

  return (
    <section className="card chart">
      <div className="card-head">
        <h2>{`${symbol} · ${timeframe}`}</h2>
        <span className={`last-price num ${last.direction}`}>
          {last.price === null ? "" : price(last.price)}
        </span>
        <ClosedNote exchange={exchange} />
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
      <div className="chart-host" id="chart" ref={host} />
    </section>
  );
}
