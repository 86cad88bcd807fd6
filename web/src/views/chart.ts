/**
 * The candle chart of the selected symbol: history from GET /market/candles, then closed
 * candles live from `candles:SYMBOL:TF`; ticks between two closes draw the forming bar.
 */
import {
  CandlestickSeries,
  HistogramSeries,
  createChart,
  type CandlestickData,
  type HistogramData,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { ApiError } from "../api";
import { describe, h } from "../dom";
import { price } from "../format";
import type { AppContext, View } from "../state";
import type { Candle, CandleFrame, CandlesOut, TickFrame } from "../types";

const TIMEFRAMES: [string, number][] = [
  ["1m", 60],
  ["5m", 300],
  ["15m", 900],
  ["1h", 3600],
  ["1d", 86400],
];
const HISTORY_BARS = 500;
const UP = "#15803d";
const DOWN = "#b91c1c";

interface Forming {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

export function chartView(app: AppContext): View {
  let timeframe = sessionStorage.getItem("algotrade.timeframe") ?? "1m";
  const title = h("h2", { text: "" });
  const last = h("span", { class: "last-price num" });
  const status = h("p", { class: "muted chart-status", hidden: true });
  const host = h("div", { class: "chart-host", id: "chart" });
  const buttons = TIMEFRAMES.map(([tf]) =>
    h(
      "button",
      { type: "button", class: "tf", dataset: { tf }, "aria-pressed": String(tf === timeframe) },
      tf,
    ),
  );
  const el = h(
    "section",
    { class: "card chart" },
    h(
      "div",
      { class: "card-head" },
      title,
      last,
      h("span", { class: "spacer" }),
      h("div", { class: "segmented", role: "group", "aria-label": "Timeframe" }, ...buttons),
    ),
    status,
    host,
  );

  const chart: IChartApi = createChart(host, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: "#334155", fontSize: 11 },
    grid: { vertLines: { color: "#eef2f6" }, horzLines: { color: "#eef2f6" } },
    rightPriceScale: { borderColor: "#d5dbe3" },
    timeScale: {
      borderColor: "#d5dbe3",
      timeVisible: true,
      secondsVisible: false,
      tickMarkFormatter: (t: Time) => formatTick(t, timeframe),
    },
    localization: { timeFormatter: (t: Time) => formatTime(t) },
  });
  const candles: ISeriesApi<"Candlestick"> = chart.addSeries(CandlestickSeries, {
    upColor: UP,
    downColor: DOWN,
    borderVisible: false,
    wickUpColor: UP,
    wickDownColor: DOWN,
  });
  const volume: ISeriesApi<"Histogram"> = chart.addSeries(HistogramSeries, {
    priceScaleId: "volume",
    priceFormat: { type: "volume" },
    lastValueVisible: false,
    priceLineVisible: false,
  });
  // Volume in the bottom fifth, candles above it.
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.22 } });

  let symbol = "";
  let lastTime = 0; // start (s) of the newest bar drawn
  let lastEnd = 0; // end (s) of the newest closed bar
  let forming: Forming | null = null;
  let stops: (() => void)[] = [];
  let generation = 0; // drops answers of an earlier symbol/timeframe
  let early: Candle[] | null = null; // live candles that arrived before the history

  const seconds = (): number => TIMEFRAMES.find(([tf]) => tf === timeframe)?.[1] ?? 60;

  const draw = (bar: Forming, vol: number | null): void => {
    if (bar.time < lastTime) return; // the chart only appends or updates its newest bar
    lastTime = bar.time;
    candles.update(toCandle(bar));
    if (vol !== null) volume.update(toVolume(bar, vol));
    last.textContent = price(bar.close);
    last.className = `last-price num ${bar.close >= bar.open ? "up" : "down"}`;
  };

  const onCandle = (data: unknown): void => {
    const c = data as CandleFrame;
    if (early) {
      early.push(c); // history is still loading: merged in when it arrives
      return;
    }
    forming = null;
    lastEnd = Math.max(lastEnd, toSeconds(c.end));
    draw(fromCandle(c), c.volume);
  };

  const onTick = (data: unknown): void => {
    const tick = data as TickFrame;
    const ts = toSeconds(tick.ts);
    // A tick belongs to the bar after the last closed one when it falls inside it;
    // across a session gap the bar's start is unknown until its candle closes.
    if (early || !lastEnd || ts < lastEnd || ts >= lastEnd + seconds()) {
      last.textContent = price(tick.price);
      return;
    }
    if (!forming || forming.time !== lastEnd) {
      forming = {
        time: lastEnd,
        open: tick.price,
        high: tick.price,
        low: tick.price,
        close: tick.price,
      };
    } else {
      forming.high = Math.max(forming.high, tick.price);
      forming.low = Math.min(forming.low, tick.price);
      forming.close = tick.price;
    }
    draw(forming, null);
  };

  const load = async (): Promise<void> => {
    const mine = ++generation;
    for (const stop of stops) stop();
    stops = [];
    forming = null;
    lastTime = lastEnd = 0;
    candles.setData([]);
    volume.setData([]);
    title.textContent = `${symbol} · ${timeframe}`;
    last.textContent = "";
    status.hidden = true;
    early = [];
    if (!symbol) return;
    // Subscribe first so that nothing closing during the history read is missed.
    stops.push(
      app.live.on(`candles:${symbol}:${timeframe}`, (d) => mine === generation && onCandle(d)),
    );
    stops.push(app.live.on(`ticks:${symbol}`, (d) => mine === generation && onTick(d)));
    try {
      const out = await app.api.get<CandlesOut>("/market/candles", {
        symbol,
        timeframe,
        limit: HISTORY_BARS,
      });
      if (mine !== generation) return;
      const history = dedupe(
        [...out.candles, ...(early ?? [])].map((c) => ({ bar: fromCandle(c), c })),
      );
      early = null;
      const newest = history.at(-1);
      if (newest) {
        candles.setData(history.map((x) => toCandle(x.bar)));
        volume.setData(history.map((x) => toVolume(x.bar, x.c.volume)));
        lastTime = newest.bar.time;
        lastEnd = toSeconds(newest.c.end);
        last.textContent = price(newest.bar.close);
      } else {
        showStatus("No candles yet for this symbol and timeframe; live bars appear as they close.");
      }
      chart.timeScale().scrollToRealTime();
    } catch (error) {
      if (mine !== generation) return;
      const pending = early ?? [];
      early = null;
      for (const c of pending) onCandle(c);
      showStatus(
        error instanceof ApiError && error.routeMissing
          ? "Candle history: not available yet."
          : describe(error).message,
      );
    }
  };

  const showStatus = (text: string): void => {
    status.textContent = text;
    status.hidden = false;
  };

  for (const button of buttons) {
    button.addEventListener("click", () => {
      timeframe = button.dataset.tf ?? "1m";
      sessionStorage.setItem("algotrade.timeframe", timeframe);
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
      void load();
    });
  }
  const unsymbol = app.symbol.subscribe((next) => {
    if (next === symbol) return;
    symbol = next;
    void load();
  });
  const unresync = app.live.onResync(() => void load());

  return {
    el,
    dispose: () => {
      unsymbol();
      unresync();
      for (const stop of stops) stop();
      chart.remove();
    },
  };
}

function toSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

function fromCandle(c: Candle): Forming {
  return { time: toSeconds(c.start), open: c.open, high: c.high, low: c.low, close: c.close };
}

function toCandle(bar: Forming): CandlestickData<Time> {
  return {
    time: bar.time as UTCTimestamp,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
  };
}

function toVolume(bar: Forming, vol: number): HistogramData<Time> {
  return {
    time: bar.time as UTCTimestamp,
    value: vol,
    color: bar.close >= bar.open ? "#15803d55" : "#b91c1c55",
  };
}

/** Ascending by start, one bar per start (the later copy wins: live beats history). */
function dedupe<T extends { bar: Forming }>(rows: T[]): T[] {
  const out: T[] = [];
  for (const row of [...rows].sort((a, b) => a.bar.time - b.bar.time)) {
    const prev = out.at(-1);
    if (prev && row.bar.time === prev.bar.time) out[out.length - 1] = row;
    else out.push(row);
  }
  return out;
}

/** Axis labels in the browser's time zone (the chart itself works in UTC seconds). */
function formatTick(t: Time, timeframe: string): string {
  const date = new Date((t as number) * 1000);
  if (timeframe === "1d")
    return date.toLocaleDateString("en-GB", { day: "2-digit", month: "short" });
  return date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false });
}

function formatTime(t: Time): string {
  const date = new Date((t as number) * 1000);
  return `${date.toLocaleDateString("en-CA")} ${date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false })}`;
}
