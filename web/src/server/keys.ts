/** The query keys of the server state held in the TanStack Query cache. */

export const keys = {
  me: ["me"] as const,
  accounts: ["broker-accounts"] as const,
  instrument: (symbol: string) => ["instrument", symbol] as const,
  instrumentSearch: (text: string) => ["instruments", text] as const,
  /** Every quotes entry (ticks update them all); one entry per watched symbol list. */
  quotes: ["quotes"] as const,
  quotesOf: (symbols: string[]) => ["quotes", symbols.join(",")] as const,
  preferences: ["preferences"] as const,
  recoveryCodes: ["recovery-codes"] as const,
  /** The Performance page's reports: ["analytics", scope, what, ...]. */
  analytics: ["analytics"] as const,
  /** Backtest runs: ["backtests", "list", offset] and ["backtests", "run", id]. */
  backtests: ["backtests"] as const,
  marketStatus: ["market-status"] as const,
  /** The alert history, its statistics (the bell's count) and one page of it. */
  alerts: ["alerts"] as const,
  alertStats: ["alerts", "stats"] as const,
  alertsOf: (filters: object, offset: number) => ["alerts", "list", filters, offset] as const,
  notificationChannels: ["notification-channels"] as const,
  priceAlerts: ["price-alerts"] as const,
  priceAlertsOf: (offset: number) => ["price-alerts", offset] as const,
  myTradingStatus: ["trading-status"] as const,
  orders: ["orders"] as const,
  fills: ["fills"] as const,
  fillsOf: (accountId: number | null, symbol: string, offset: number) =>
    ["fills", accountId, symbol, offset] as const,
  /** The fills marked on the chart: under `fills`, so a fill seen live reads them again. */
  chartFills: (accountId: number | null, symbol: string) =>
    ["fills", "chart", accountId, symbol] as const,
  positions: ["positions"] as const,
  positionsOf: (accountId: number) => ["positions", accountId] as const,
  summary: (accountId: number) => ["account-summary", accountId] as const,
  catalog: ["strategies"] as const,
  subscriptions: ["subscriptions"] as const,
  signals: ["signals"] as const,
  adminUsers: ["admin", "users"] as const,
  adminUsersOf: (filters: object, offset: number) => ["admin", "users", filters, offset] as const,
  audit: (action: string, offset: number) => ["admin", "audit", action, offset] as const,
  tradingStatus: ["admin", "trading-status"] as const,
  adminUser: (id: number) => ["admin", "user", id] as const,
  /** One user's data as an admin sees it: what is "broker-accounts", "orders", ... */
  adminUserData: (id: number, what: string, offset: number) =>
    ["admin", "user", id, what, offset] as const,
  auditOf: (filters: object, offset: number) => ["admin", "audit", filters, offset] as const,
};
