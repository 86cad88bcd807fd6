/** The layout preference: density (the whole dashboard) and the trade screen's hidden panels. */
import { useEffect } from "react";
import { DEFAULT_PREFERENCES, usePreferences } from "./server/preferences";
import type { Density, Layout, Panel } from "./types";

export const DEFAULT_LAYOUT: Layout = { density: "comfortable", hidden_panels: [] };

export const PANELS: [Panel, string][] = [
  ["watchlist", "Watchlist"],
  ["summary", "Account summary"],
  ["positions", "Positions"],
  ["orders", "Orders"],
];

export function useLayout(): Layout {
  return (usePreferences().data ?? DEFAULT_PREFERENCES).layout ?? DEFAULT_LAYOUT;
}

/** Sets the page's density attribute (the stylesheet keys its spacing on it) while mounted. */
export function useApplyDensity(density: Density): void {
  useEffect(() => {
    const root = document.documentElement;
    if (density === "compact") root.dataset.density = density;
    else delete root.dataset.density;
    return () => {
      delete root.dataset.density;
    };
  }, [density]);
}
