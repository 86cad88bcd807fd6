/**
 * Server state: one hook per REST resource the views read. The cache is the one copy of
 * each; live frames update it in place (liveCache.ts) and mutations invalidate it.
 */
import { keepPreviousData, queryOptions, useQuery } from "@tanstack/react-query";
import type { Api } from "../api";
import { useClients } from "../context";
import type {
  AccountSummary,
  AdminTradingStatus,
  AuditEntry,
  BrokerAccount,
  Fill,
  Instrument,
  Order,
  Page,
  Position,
  Quote,
  Signal,
  Strategy,
  StrategyCatalog,
  Subscription,
  TradingStatus,
  User,
} from "../types";
import { keys } from "./keys";
import { ORDERS_LIMIT, mergeOrder, orderId } from "./orderBook";

export const ADMIN_PAGE = 25;
const SIGNALS_LIMIT = 100;
const CATALOG_STALE_MS = 5 * 60_000;

export function useAccounts() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.accounts,
    queryFn: () => api.list<BrokerAccount>("/broker-accounts", { limit: 200 }),
  });
}

/** An instrument's description; shared by the ticket, the watchlist and the account form. */
export function instrumentQuery(api: Api, symbol: string) {
  return queryOptions({
    queryKey: keys.instrument(symbol),
    queryFn: () => api.get<Instrument>(`/instruments/${encodeURIComponent(symbol)}`),
    staleTime: CATALOG_STALE_MS,
    enabled: symbol !== "",
  });
}

export function useInstrument(symbol: string) {
  const { api } = useClients();
  return useQuery(instrumentQuery(api, symbol));
}

/** Instruments matching a search text (suggestions while typing a symbol). */
export function useInstrumentSearch(text: string) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.instrumentSearch(text),
    queryFn: () => api.get<Instrument[]>("/instruments", { q: text, limit: 10 }),
    enabled: text !== "",
    staleTime: CATALOG_STALE_MS,
  });
}

/** Last prices of the watched symbols; `ticks:SYMBOL` frames keep them current. */
export function useQuotes(symbols: string[]) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.quotesOf(symbols),
    queryFn: () => api.get<Quote[]>("/market/quotes", { symbols: symbols.join(",") }),
    enabled: symbols.length > 0,
    placeholderData: keepPreviousData,
  });
}

/** The user's newest orders; `orders` frames are merged in by version. */
export function useOrders() {
  const { api, replay } = useClients();
  return useQuery({
    queryKey: keys.orders,
    queryFn: () =>
      replay.orders.read(
        () => api.list<Order>("/orders", { limit: ORDERS_LIMIT }),
        (items, frames) =>
          frames.reduce(
            mergeOrder,
            items.filter((o) => orderId(o) !== undefined),
          ),
      ),
  });
}

export function usePositions(accountId: number | null) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.positionsOf(accountId ?? 0),
    queryFn: async () =>
      (await api.list<Position>("/positions", { broker_account_id: accountId })).filter(
        (p) => p.broker_account_id === undefined || p.broker_account_id === accountId,
      ),
    enabled: accountId !== null,
  });
}

/** The account's figures; `account` frames are laid over them. */
export function useSummary(accountId: number | null) {
  const { api, replay } = useClients();
  return useQuery({
    queryKey: keys.summary(accountId ?? 0),
    queryFn: () =>
      replay.summary.read(
        () => api.get<AccountSummary>(`/accounts/${accountId}/summary`),
        (read, frames) =>
          Object.assign(
            read,
            ...frames.filter(
              (f) => (f.broker_account_id ?? f.account_id ?? accountId) === accountId,
            ),
          ) as AccountSummary,
      ),
    enabled: accountId !== null,
  });
}

export interface Catalog {
  strategies: Strategy[];
  /** Null when the catalog carries no sizing schemas (an older API). */
  sizingSchemas: StrategyCatalog["sizing_schemas"] | null;
}

export function useCatalog() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.catalog,
    queryFn: async (): Promise<Catalog> => {
      const raw = await api.get<StrategyCatalog | Strategy[]>("/strategies");
      if (Array.isArray(raw)) return { strategies: raw, sizingSchemas: null };
      return {
        strategies: raw.items ?? raw.strategies ?? [],
        sizingSchemas: raw.sizing_schemas ?? raw.sizing_methods ?? null,
      };
    },
    staleTime: CATALOG_STALE_MS,
  });
}

export function useSubscriptions() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.subscriptions,
    queryFn: () => api.list<Subscription>("/subscriptions", { limit: 200 }),
  });
}

/** Recent signals, newest first; `signals` frames are added in front, once each. */
export function useSignals() {
  const { api, replay } = useClients();
  return useQuery({
    queryKey: keys.signals,
    queryFn: () =>
      replay.signals.read(
        () => api.list<Signal>("/signals", { limit: 50 }),
        (items, frames) => frames.reduce(addSignal, addSignals([], items)),
      ),
  });
}

/** One signal in front of the list, unless it is already there. */
export function addSignal(signals: Signal[], signal: Signal): Signal[] {
  const key = signalKey(signal);
  if (signals.some((s) => signalKey(s) === key)) return signals;
  return [signal, ...signals].slice(0, SIGNALS_LIMIT);
}

function addSignals(signals: Signal[], older: Signal[]): Signal[] {
  const seen = new Set(signals.map(signalKey));
  const out = [...signals];
  for (const signal of older) {
    const key = signalKey(signal);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(signal);
  }
  return out.slice(0, SIGNALS_LIMIT);
}

export function signalKey(s: Signal): string {
  return String(
    s.signal_id ?? s.id ?? `${s.subscription_id}:${s.symbol}:${s.candle_end}:${s.action}`,
  );
}

export interface UserFilters {
  q: string;
  role: string;
  active: string;
}

export function useAdminUsers(filters: UserFilters, offset: number) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.adminUsersOf(filters, offset),
    queryFn: () => api.get<Page<User>>("/admin/users", { ...filters, limit: ADMIN_PAGE, offset }),
    placeholderData: keepPreviousData,
  });
}

export function useAudit(action: string, offset: number) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.audit(action, offset),
    queryFn: () => api.get<Page<AuditEntry>>("/admin/audit", { action, limit: ADMIN_PAGE, offset }),
    placeholderData: keepPreviousData,
  });
}

/** The global and per-user halts (admins). */
export function useTradingStatus() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.tradingStatus,
    queryFn: () => api.get<AdminTradingStatus>("/admin/trading/status"),
  });
}

/** Halts arrive on the `trading` channel (liveCache.ts); read on load, after a reconnect,
 * and now and then in case a frame was missed. */
const HALT_POLL_MS = 60_000;

/** The halts that stop the signed-in user's trading (their own, an admin's, the global one). */
export function useMyTradingStatus() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.myTradingStatus,
    queryFn: () => api.get<TradingStatus>("/trading/status"),
    refetchInterval: HALT_POLL_MS,
  });
}

export const FILLS_PAGE = 50;

/** The tradebook: fills, newest first, of one account (or all) and optionally one symbol. */
export function useFills(accountId: number | null, symbol: string, offset: number) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.fillsOf(accountId, symbol, offset),
    queryFn: () =>
      api.get<Page<Fill>>("/fills", {
        broker_account_id: accountId,
        symbol,
        limit: FILLS_PAGE,
        offset,
      }),
    placeholderData: keepPreviousData,
  });
}

/** The newest fills of one symbol (of the selected account, or all), marked on the chart. */
export function useChartFills(accountId: number | null, symbol: string) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.chartFills(accountId, symbol),
    queryFn: () =>
      api.get<Page<Fill>>("/fills", { broker_account_id: accountId, symbol, limit: 200 }),
    enabled: symbol !== "",
  });
}

export function useAdminUser(id: number) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.adminUser(id),
    queryFn: () => api.get<User>(`/admin/users/${id}`),
  });
}

export interface AuditFilters {
  action?: string;
  actor_id?: number;
  target_type?: string;
  target_id?: string;
}

export function useAuditOf(filters: AuditFilters, offset: number, limit = ADMIN_PAGE) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.auditOf(filters, offset),
    queryFn: () => api.get<Page<AuditEntry>>("/admin/audit", { ...filters, limit, offset }),
    placeholderData: keepPreviousData,
  });
}
