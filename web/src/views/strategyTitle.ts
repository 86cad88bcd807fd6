/** The catalog's human title of a strategy (an older catalog has none: its name humanised). */
import type { Strategy } from "../types";

export function strategyTitle(s: Pick<Strategy, "name" | "title">): string {
  return s.title || s.name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}
