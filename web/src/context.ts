/**
 * What the signed-in views share: the clients and the user (stable for the whole session),
 * and the selection (the broker account and the symbol the trade screen works with).
 * The providers are in dashboard.tsx.
 */
import { createContext, useContext } from "react";
import type { Api } from "./api";
import type { LiveSocket } from "./live";
import type { FrameReplay } from "./server/replay";
import type { Session } from "./session";
import type { AccountSummary, Order, Signal, User } from "./types";

export interface Clients {
  api: Api;
  live: LiveSocket;
  session: Session;
  user: User;
  /** Live frames laid again over the REST reads they raced with (see server/liveCache.ts). */
  replay: {
    orders: FrameReplay<Partial<Order>>;
    summary: FrameReplay<AccountSummary>;
    signals: FrameReplay<Signal>;
  };
}

export interface Selection {
  /** The broker account the ticket, positions and summary work with. */
  accountId: number | null;
  setAccountId(id: number | null): void;
  /** The symbol selected in the watchlist (chart and order ticket follow it). */
  symbol: string;
  setSymbol(symbol: string): void;
}

export const ClientsContext = createContext<Clients | null>(null);
export const SelectionContext = createContext<Selection | null>(null);

export function useClients(): Clients {
  const clients = useContext(ClientsContext);
  if (!clients) throw new Error("DashboardProvider missing");
  return clients;
}

export function useSelection(): Selection {
  const selection = useContext(SelectionContext);
  if (!selection) throw new Error("DashboardProvider missing");
  return selection;
}
