/**
 * The candle chart of one symbol and timeframe (lightweight-charts): history from
 * GET /market/candles, then closed candles live from `candles:SYMBOL:TF`; ticks between two
 * closes draw the forming bar. The React panel (ChartPanel.tsx) owns one and tells it what
 * to show and which of the user's fills to mark; it reports the last price and any notice
 * back.
 */
import {
  CandlestickSeries,
  HistogramSeries,
  createChart,
  createSeriesMarkers,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type CandlestickData,
  type HistogramData,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import type { Api } from "../api";
import type { LiveSocket } from "../live";
import type { Candle, CandleFrame, CandlesOut, TickFrame } from "../types";
import { describe, routeMissing } from "../ui/errors";

export const TIMEFRAMES: [string, number][] = [
  ["1m", 60],
  ["5m", 300],
  ["15m", 900],
  ["1h", 3600],
  ["1d", 86400],
];
const HISTORY_BARS = 500;
const UP = "#15803d";
const DOWN = "#b91c1c";

interface Bar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

/** A fill to mark on the chart (the user's, of the symbol shown). */
export interface FillMark {
  side: string;
  quantity: string;
  price: string;
  ts: string;
}

export interface ChartEvents {
  /** The newest price; `rising` is unknown (null) for a tick outside any drawn bar. */
  last(price: number | null, rising: boolean | null): void;
  /** A notice under the title (no candles yet, an error), or null. */
  notice(text: string | null): void;
  /** How many markers are drawn and how many fills they mark (after each change of the
   * fills or the bars). */
  marked?(markers: number, fills: number): void;
}

export class CandleChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<"Candlestick">;
  private readonly volume: ISeriesApi<"Histogram">;
  private readonly markers: ISeriesMarkersPluginApi<Time>;
  private fills: FillMark[] = [];
  private barTimes: number[] = []; // starts (s) of the bars drawn, ascending
  private symbol = "";
  private timeframe = "1m";
  private lastTime = 0; // start (s) of the newest bar drawn
  private lastEnd = 0; // end (s) of the newest closed bar
  private forming: Bar | null = null;
  private stops: (() => void)[] = [];
  private generation = 0; // drops answers of an earlier symbol/timeframe
  private early: CandleFrame[] | null = null; // live candles that arrived before the history
  private readonly unresync: () => void;

  constructor(
    host: HTMLElement,
    private readonly api: Api,
    private readonly live: LiveSocket,
    private readonly events: ChartEvents,
  ) {
    this.chart = createChart(host, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: "#334155", fontSize: 11 },
      grid: { vertLines: { color: "#eef2f6" }, horzLines: { color: "#eef2f6" } },
      rightPriceScale: { borderColor: "#d5dbe3" },
      timeScale: {
        borderColor: "#d5dbe3",
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 4, // room for the newest bar's fill marker and its text
        tickMarkFormatter: (t: Time) => formatTick(t, this.timeframe),
      },
      localization: { timeFormatter: (t: Time) => formatTime(t) },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    // Volume in the bottom fifth, candles above it.
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.22 } });
    this.markers = createSeriesMarkers(this.candles, [], { zOrder: "aboveSeries" });
    this.unresync = live.onResync(() => void this.load());
  }

  /** Mark these fills (of the symbol shown) on their bars: buys below, sells above. */
  setFills(fills: FillMark[]): void {
    this.fills = fills;
    this.drawMarkers();
  }

  private drawMarkers(): void {
    const { markers, placed } = fillMarkers(this.fills, this.barTimes);
    this.markers.setMarkers(markers);
    this.events.marked?.(markers.length, placed);
  }

  /** Text, grid and border colours for a light or a dark page. */
  setTheme(theme: "light" | "dark"): void {
    const dark = theme === "dark";
    const line = dark ? "#334155" : "#d5dbe3";
    const grid = dark ? "#1e293b" : "#eef2f6";
    this.chart.applyOptions({
      layout: { textColor: dark ? "#cbd5e1" : "#334155" },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      rightPriceScale: { borderColor: line },
      timeScale: { borderColor: line },
    });
  }

  /** Show a symbol and timeframe (history, then live); nothing happens when they are shown. */
  show(symbol: string, timeframe: string): void {
    if (symbol === this.symbol && timeframe === this.timeframe && this.generation) return;
    this.symbol = symbol;
    this.timeframe = timeframe;
    void this.load();
  }

  dispose(): void {
    this.generation += 1;
    this.unresync();
    for (const stop of this.stops) stop();
    this.chart.remove();
  }

  private seconds(): number {
    return TIMEFRAMES.find(([tf]) => tf === this.timeframe)?.[1] ?? 60;
  }

  private draw(bar: Bar, vol: number | null): void {
    if (bar.time < this.lastTime) return; // the chart only appends or updates its newest bar
    const added = bar.time > this.lastTime;
    this.lastTime = bar.time;
    this.candles.update(toCandle(bar));
    if (vol !== null) this.volume.update(toVolume(bar, vol));
    this.events.last(bar.close, bar.close >= bar.open);
    if (added) {
      this.barTimes.push(bar.time);
      if (this.fills.length) this.drawMarkers(); // a fill may belong to the new bar
    }
  }

  private onCandle(c: CandleFrame): void {
    if (this.early) {
      this.early.push(c); // history is still loading: merged in when it arrives
      return;
    }
    this.forming = null;
    this.lastEnd = Math.max(this.lastEnd, toSeconds(c.end));
    this.draw(fromCandle(c), c.volume);
  }

  private onTick(tick: TickFrame): void {
    const ts = toSeconds(tick.ts);
    const end = this.lastEnd;
    // A tick belongs to the bar after the last closed one when it falls inside it;
    // across a session gap the bar's start is unknown until its candle closes.
    if (this.early || !end || ts < end || ts >= end + this.seconds()) {
      this.events.last(tick.price, null);
      return;
    }
    let bar = this.forming;
    if (!bar || bar.time !== end) {
      bar = { time: end, open: tick.price, high: tick.price, low: tick.price, close: tick.price };
      this.forming = bar;
    } else {
      bar.high = Math.max(bar.high, tick.price);
      bar.low = Math.min(bar.low, tick.price);
      bar.close = tick.price;
    }
    this.draw(bar, null);
  }

  private async load(): Promise<void> {
    const mine = ++this.generation;
    const { symbol, timeframe } = this;
    for (const stop of this.stops) stop();
    this.stops = [];
    this.forming = null;
    this.lastTime = this.lastEnd = 0;
    this.barTimes = [];
    this.drawMarkers();
    this.candles.setData([]);
    this.volume.setData([]);
    this.events.last(null, null);
    this.events.notice(null);
    this.early = [];
    if (!symbol) return;
    // Subscribe first so that nothing closing during the history read is missed.
    this.stops.push(
      this.live.on(`candles:${symbol}:${timeframe}`, (d) => {
        if (mine === this.generation) this.onCandle(d as CandleFrame);
      }),
      this.live.on(`ticks:${symbol}`, (d) => {
        if (mine === this.generation) this.onTick(d as TickFrame);
      }),
    );
    try {
      const out = await this.api.get<CandlesOut>("/market/candles", {
        symbol,
        timeframe,
        limit: HISTORY_BARS,
      });
      if (mine !== this.generation) return;
      const history = dedupe(
        [...out.candles, ...(this.early ?? [])].map((c) => ({ bar: fromCandle(c), c })),
      );
      this.early = null;
      const newest = history.at(-1);
      if (newest) {
        this.candles.setData(history.map((x) => toCandle(x.bar)));
        this.volume.setData(history.map((x) => toVolume(x.bar, x.c.volume)));
        this.lastTime = newest.bar.time;
        this.lastEnd = toSeconds(newest.c.end);
        this.barTimes = history.map((x) => x.bar.time);
        this.drawMarkers();
        this.events.last(newest.bar.close, null);
      } else {
        this.events.notice(
          "No candles yet for this symbol and timeframe; live bars appear as they close.",
        );
      }
      this.chart.timeScale().scrollToRealTime();
    } catch (error) {
      if (mine !== this.generation) return;
      const pending = this.early ?? [];
      this.early = null;
      for (const c of pending) this.onCandle(c);
      this.events.notice(
        routeMissing(error) ? "Candle history: not available yet." : describe(error).message,
      );
    }
  }
}

const MARK_BUY = "#2563eb";
const MARK_SELL = "#d97706";

/**
 * One marker per bar and side, its text the quantity the bar's fills add up to (short
 * enough for a phone). A fill belongs to the last bar that starts at or before it; fills
 * before the first bar drawn are not marked.
 */
export function fillMarkers(
  fills: FillMark[],
  barTimes: number[],
): { markers: SeriesMarker<Time>[]; placed: number } {
  if (!barTimes.length) return { markers: [], placed: 0 };
  const grouped = new Map<string, { time: number; side: string; quantity: number }>();
  let placed = 0;
  for (const fill of fills) {
    const time = barAt(barTimes, toSeconds(fill.ts));
    if (time === null) continue;
    placed += 1;
    const side = fill.side === "SELL" ? "SELL" : "BUY";
    const key = `${time}:${side}`;
    const held = grouped.get(key) ?? { time, side, quantity: 0 };
    held.quantity += Number(fill.quantity);
    grouped.set(key, held);
  }
  const markers = [...grouped.values()]
    .sort((a, b) => a.time - b.time || a.side.localeCompare(b.side))
    .map(({ time, side, quantity }): SeriesMarker<Time> => ({
      time: time as UTCTimestamp,
      position: side === "BUY" ? "belowBar" : "aboveBar",
      shape: side === "BUY" ? "arrowUp" : "arrowDown",
      color: side === "BUY" ? MARK_BUY : MARK_SELL,
      text: `${side === "BUY" ? "B" : "S"} ${Number(quantity.toPrecision(12))}`,
    }));
  return { markers, placed };
}

/** The start of the last bar at or before `ts` (binary search), or null before the first. */
function barAt(times: number[], ts: number): number | null {
  let lo = 0;
  let hi = times.length - 1;
  if (ts < times[0]!) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid]! <= ts) lo = mid;
    else hi = mid - 1;
  }
  return times[lo]!;
}

function toSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

function fromCandle(c: Candle): Bar {
  return { time: toSeconds(c.start), open: c.open, high: c.high, low: c.low, close: c.close };
}

function toCandle(bar: Bar): CandlestickData<Time> {
  return {
    time: bar.time as UTCTimestamp,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
  };
}

function toVolume(bar: Bar, vol: number): HistogramData<Time> {
  return {
    time: bar.time as UTCTimestamp,
    value: vol,
    color: bar.close >= bar.open ? "#15803d55" : "#b91c1c55",
  };
}

/** Ascending by start, one bar per start (the later copy wins: live beats history). */
function dedupe<T extends { bar: Bar }>(rows: T[]): T[] {
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
