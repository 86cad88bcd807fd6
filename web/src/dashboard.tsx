/** The providers of the signed-in views' shared context (context.ts). */
import { useCallback, useEffect, useState } from "react";
import type { ReactNode } from "react";
import { ClientsContext, SelectionContext, type Clients } from "./context";
import { useAccounts } from "./server/queries";
import { DEFAULT_PREFERENCES, usePreferences, useUpdatePreferences } from "./server/preferences";
import { useApplyTheme } from "./theme";
import { DEFAULT_LAYOUT, useApplyDensity } from "./layout";

const ACCOUNT_KEY = "algotrade.account";

export function DashboardProvider({
  clients,
  children,
}: {
  clients: Clients;
  children: ReactNode;
}) {
  return (
    <ClientsContext.Provider value={clients}>
      <SelectionProvider>{children}</SelectionProvider>
    </ClientsContext.Provider>
  );
}

function SelectionProvider({ children }: { children: ReactNode }) {
  const [accountId, setAccountId] = useState<number | null>(
    () => Number(sessionStorage.getItem(ACCOUNT_KEY)) || null,
  );
  const accounts = useAccounts().data;
  // The symbol and the theme are the user's preferences, kept on the server.
  const preferences = usePreferences().data ?? DEFAULT_PREFERENCES;
  const update = useUpdatePreferences();
  const symbol = preferences.symbol ?? preferences.watchlist[0] ?? "RELIANCE";
  const setSymbol = useCallback(
    (next: string) => {
      if (next !== symbol) update({ symbol: next });
    },
    [symbol, update],
  );
  useApplyTheme(preferences.theme);
  useApplyDensity((preferences.layout ?? DEFAULT_LAYOUT).density);

  // The account is remembered per tab; one that is gone gives way to the first active one.
  useEffect(() => {
    if (!accounts || accounts.some((a) => a.id === accountId)) return;
    setAccountId((accounts.find((a) => a.is_active) ?? accounts[0])?.id ?? null);
  }, [accounts, accountId]);
  useEffect(() => {
    if (accountId === null) sessionStorage.removeItem(ACCOUNT_KEY);
    else sessionStorage.setItem(ACCOUNT_KEY, String(accountId));
  }, [accountId]);

  return (
    <SelectionContext.Provider value={{ accountId, setAccountId, symbol, setSymbol }}>
      {children}
    </SelectionContext.Provider>
  );
}
