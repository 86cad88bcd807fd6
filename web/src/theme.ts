/** The colour theme: the user's choice (a preference), or the system's when it is "system". */
import { useEffect, useSyncExternalStore } from "react";
import type { Theme } from "./types";

const DARK_QUERY = "(prefers-color-scheme: dark)";

function systemDark(): boolean {
  return typeof matchMedia === "function" && matchMedia(DARK_QUERY).matches;
}

/** True while the system asks for a dark theme (follows changes of the setting). */
export function useSystemDark(): boolean {
  return useSyncExternalStore((changed) => {
    if (typeof matchMedia !== "function") return () => undefined;
    const query = matchMedia(DARK_QUERY);
    query.addEventListener("change", changed);
    return () => query.removeEventListener("change", changed);
  }, systemDark);
}

/** The theme in force: "light" or "dark". */
export function useEffectiveTheme(choice: Theme): "light" | "dark" {
  const dark = useSystemDark();
  return choice === "system" ? (dark ? "dark" : "light") : choice;
}

/** Sets the page's theme attribute (the stylesheet keys its colours on it) while mounted. */
export function useApplyTheme(choice: Theme): void {
  useEffect(() => {
    const root = document.documentElement;
    if (choice === "system") delete root.dataset.theme;
    else root.dataset.theme = choice;
    return () => {
      delete root.dataset.theme;
    };
  }, [choice]);
}
