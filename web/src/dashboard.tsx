/** The providers of the signed-in views' shared context (context.ts). */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { ClientsContext, SelectionContext, type Clients } from "./context";
import { useAccounts } from "./server/queries";

const ACCOUNT_KEY = "algotrade.account";
const SYMBOL_KEY = "algotrade.symbol";

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
  const [symbol, setSymbol] = useState(() => localStorage.getItem(SYMBOL_KEY) || "RELIANCE");
  const accounts = useAccounts().data;

  // The account is remembered per tab; one that is gone gives way to the first active one.
  useEffect(() => {
    if (!accounts || accounts.some((a) => a.id === accountId)) return;
    setAccountId((accounts.find((a) => a.is_active) ?? accounts[0])?.id ?? null);
  }, [accounts, accountId]);
  useEffect(() => {
    if (accountId === null) sessionStorage.removeItem(ACCOUNT_KEY);
    else sessionStorage.setItem(ACCOUNT_KEY, String(accountId));
  }, [accountId]);
  useEffect(() => {
    localStorage.setItem(SYMBOL_KEY, symbol);
  }, [symbol]);

  return (
    <SelectionContext.Provider value={{ accountId, setAccountId, symbol, setSymbol }}>
      {children}
    </SelectionContext.Provider>
  );
}
