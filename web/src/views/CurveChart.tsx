/** An equity curve over its drawdown (equityChart.ts), in the colours of the theme in force. */
import { useEffect, useRef } from "react";
import { DEFAULT_PREFERENCES, usePreferences } from "../server/preferences";
import { useEffectiveTheme } from "../theme";
import { EquityChart, type CurvePoint } from "./equityChart";

export function CurveChart({ points, id }: { points: CurvePoint[] | undefined; id: string }) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<EquityChart | null>(null);
  const theme = useEffectiveTheme((usePreferences().data ?? DEFAULT_PREFERENCES).theme);
  useEffect(() => {
    if (!host.current) return;
    chart.current = new EquityChart(host.current);
    return () => {
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => chart.current?.setTheme(theme), [theme]);
  useEffect(() => {
    if (points) chart.current?.show(points);
  }, [points]);
  return (
    <>
      <div className="equity-chart" id={id} ref={host} data-points={points?.length} />
      {points && points.length === 0 ? (
        <p className="muted small">No equity recorded in this range.</p>
      ) : null}
    </>
  );
}
