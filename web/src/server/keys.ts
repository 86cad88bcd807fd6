/** The query keys of the server state held in the TanStack Query cache. */

export const keys = {
  me: ["me"] as const,
  accounts: ["broker-accounts"] as const,
  instrument: (symbol: string) => ["instrument", symbol] as const,
  instrumentSearch: (text: string) => ["instruments", text] as const,
  /** Every quotes entry (ticks update them all); one entry per watched symbol list. */
  quotes: ["quotes"] as const,
  quotesOf: (symbols: string[]) => ["quotes", symbols.join(",")] as const,
  orders: ["orders"] as const,
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
};
