/** The signed-in layout: header (account, live status, market status per exchange, panic
 * button, sign out) and tabs. */
import { lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import { useClients, useSelection } from "../context";
import type { LiveStatus } from "../live";
import { useLiveStatus } from "../liveHooks";
import { MarketBadges } from "../ui/MarketState";
import { PageBoundary } from "../ui/PageBoundary";
import { useAccounts } from "../server/queries";
import { AccountsPage } from "./AccountsPage";
import { AlertBell } from "./AlertBell";
import { HaltBanner, HaltControls } from "./HaltControls";
import { TradePage } from "./TradePage";

// The schema forms (react-jsonschema-form and ajv) load with the page that uses them; the
// pages a trader opens now and then load when first opened.
const StrategiesPage = lazy(() => import("./StrategiesPage"));
const TradebookPage = lazy(() => import("./TradebookPage"));
const PerformancePage = lazy(() => import("./PerformancePage"));
const BacktestsPage = lazy(() => import("./BacktestsPage"));
const ProfilePage = lazy(() => import("./ProfilePage"));
const AdminPage = lazy(() => import("./AdminPage"));
const AlertsPage = lazy(() => import("./AlertsPage"));

interface Tab {
  id: string;
  label: string;
  page: () => ReactNode;
}

const TABS: Tab[] = [
  { id: "trade", label: "Trade", page: () => <TradePage /> },
  { id: "tradebook", label: "Tradebook", page: () => <TradebookPage /> },
  { id: "performance", label: "Performance", page: () => <PerformancePage /> },
  { id: "backtests", label: "Backtests", page: () => <BacktestsPage /> },
  { id: "strategies", label: "Strategies", page: () => <StrategiesPage /> },
  { id: "accounts", label: "Broker accounts", page: () => <AccountsPage /> },
  { id: "alerts", label: "Alerts", page: () => <AlertsPage /> },
  { id: "profile", label: "Profile", page: () => <ProfilePage /> },
];
const ADMIN_TAB: Tab = { id: "admin", label: "Admin", page: () => <AdminPage /> };

const STATUS_TEXT: Record<LiveStatus, string> = {
  connecting: "connecting",
  live: "live",
  reconnecting: "reconnecting",
  offline: "offline",
};

export function Shell({ signOut }: { signOut: () => void }) {
  const { user } = useClients();
  const tabs = user.role === "admin" ? [...TABS, ADMIN_TAB] : TABS;
  const route = useHashRoute();
  const active = tabs.find((t) => t.id === route) ?? tabs[0]!;
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">algotrade</span>
        <AccountPicker />
        <LiveBadge />
        <MarketBadges />
        <span className="spacer" />
        <HaltControls />
        <AlertBell />
        <a className="who" href="#/profile" title={`${user.email}: profile and security`}>
          {user.full_name || user.email}
          {user.role === "admin" ? <em> admin</em> : null}
        </a>
        <button type="button" className="secondary" id="sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      <HaltBanner />
      <nav className="tabs" role="tablist">
        {tabs.map((tab) => (
          <a
            key={tab.id}
            href={`#/${tab.id}`}
            role="tab"
            data-tab={tab.id}
            aria-selected={tab === active}
          >
            {tab.label}
          </a>
        ))}
      </nav>
      <div className="content">
        <PageBoundary key={active.id}>
          <Suspense fallback={<p className="boot">Loading...</p>}>{active.page()}</Suspense>
        </PageBoundary>
      </div>
    </div>
  );
}

function useHashRoute(): string {
  const read = () => location.hash.replace(/^#\/?/, "") || "trade";
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function AccountPicker() {
  const accounts = useAccounts();
  const { accountId, setAccountId } = useSelection();
  const list = accounts.data ?? (accounts.isError ? [] : null);
  return (
    <label className="account-picker">
      <span>Account</span>
      <select
        name="account"
        id="account-picker"
        aria-label="Broker account"
        value={list?.length ? String(accountId ?? "") : ""}
        onChange={(event) => setAccountId(event.target.value ? Number(event.target.value) : null)}
      >
        {list?.length ? (
          list.map((a) => (
            <option key={a.id} value={String(a.id)}>
              {`${a.label} (${a.broker}, ${a.currency})`}
            </option>
          ))
        ) : (
          <option value="">
            {list === null ? "loading accounts..." : "no broker account yet"}
          </option>
        )}
      </select>
    </label>
  );
}

function LiveBadge() {
  const status = useLiveStatus();
  return (
    <span className="live-badge" id="live-status" title="WebSocket connection" data-status={status}>
      {STATUS_TEXT[status]}
    </span>
  );
}
