/**
 * An equity curve over its drawdown (lightweight-charts, two panes): equity as a line in the
 * top pane, the drawdown below the running peak as a red area (a negative percentage).
 */
import {
  AreaSeries,
  LineSeries,
  createChart,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";

export interface CurvePoint {
  ts: string;
  equity: string;
  drawdown: number;
}

export class EquityChart {
  private readonly chart: IChartApi;
  private readonly equity: ISeriesApi<"Line">;
  private readonly drawdown: ISeriesApi<"Area">;

  constructor(host: HTMLElement) {
    this.chart = createChart(host, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: "#334155", fontSize: 11 },
      grid: { vertLines: { color: "#eef2f6" }, horzLines: { color: "#eef2f6" } },
      rightPriceScale: { borderColor: "#d5dbe3" },
      timeScale: { borderColor: "#d5dbe3", timeVisible: true, secondsVisible: false },
      localization: {
        timeFormatter: (t: Time) =>
          new Date(Number(t) * 1000).toLocaleString(undefined, {
            dateStyle: "medium",
            timeStyle: "short",
          }),
      },
    });
    this.equity = this.chart.addSeries(LineSeries, {
      color: "#1d4ed8",
      lineWidth: 2,
      priceLineVisible: false,
      title: "equity",
    });
    this.drawdown = this.chart.addSeries(
      AreaSeries,
      {
        lineColor: "#b91c1c",
        topColor: "#b91c1c22",
        bottomColor: "#b91c1c66",
        lineWidth: 1,
        invertFilledArea: true,
        priceLineVisible: false,
        priceFormat: { type: "custom", formatter: (v: number) => `${v.toFixed(2)}%` },
        title: "drawdown",
      },
      1,
    );
    const panes = this.chart.panes();
    panes[1]?.setHeight(90);
  }

  /** Draw the points (ISO times, money strings); one point per second at most. */
  show(points: CurvePoint[]): void {
    const bySecond = new Map<number, CurvePoint>();
    for (const p of points) {
      const t = Math.floor(Date.parse(p.ts) / 1000);
      if (Number.isFinite(t)) bySecond.set(t, p);
    }
    const times = [...bySecond.keys()].sort((a, b) => a - b);
    this.equity.setData(
      times.map((t) => ({ time: t as UTCTimestamp, value: Number(bySecond.get(t)!.equity) })),
    );
    this.drawdown.setData(
      times.map((t) => ({ time: t as UTCTimestamp, value: bySecond.get(t)!.drawdown * 100 })),
    );
    this.chart.timeScale().fitContent();
  }

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
    this.equity.applyOptions({ color: dark ? "#60a5fa" : "#1d4ed8" });
  }

  dispose(): void {
    this.chart.remove();
  }
}
