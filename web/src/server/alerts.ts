/**
 * Alerts (docs/alerts.md, REST): the history and its statistics, the notification channels
 * and the price alerts, held in the query cache. The `alerts` channel of the live feed
 * counts a new alert at once and reads the history again (liveCache.ts).
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useClients } from "../context";
import type { Page } from "../types";
import { keys } from "./keys";

export const SEVERITIES = ["INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ALERT_KINDS: [string, string][] = [
  ["order_filled", "Order filled"],
  ["order_partially_filled", "Order partly filled"],
  ["order_denied", "Order denied"],
  ["order_rejected", "Order rejected"],
  ["risk_limit", "Risk limit reached"],
  ["kill_switch", "Kill switch"],
  ["position_squared_off", "Position squared off"],
  ["feed_stale", "Feed stale"],
  ["feed_back", "Feed back"],
  ["subscription_error", "Subscription error"],
  ["backtest_finished", "Backtest finished"],
  ["daily_summary", "Daily summary"],
  ["price_alert", "Price alert"],
  ["test", "Test"],
];

export function kindLabel(kind: string): string {
  return ALERT_KINDS.find(([k]) => k === kind)?.[1] ?? kind.replace(/_/g, " ");
}

export interface Delivery {
  channel_id: number;
  channel_kind: string;
  channel_name: string;
  status: "pending" | "sent" | "failed" | string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  sent_at: string | null;
}

export interface Alert {
  id: string;
  kind: string;
  severity: Severity | string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: string;
  read: boolean;
  read_at: string | null;
  deliveries: Delivery[];
}

export interface AlertStats {
  total: number;
  unread: number;
  by_kind: Record<string, number>;
  by_severity: Record<string, number>;
  unread_by_severity: Record<string, number>;
}

export interface AlertFilters {
  severity: string;
  kind: string;
  /** "" both, "false" unread only, "true" read only */
  read: string;
}

export const CHANNEL_KINDS = ["websocket", "email", "telegram", "slack", "discord", "webhook"];

export interface NotificationChannel {
  id: number;
  kind: string;
  name: string;
  enabled: boolean;
  /** the severities it sends, in rank order (at least one) */
  severities: (Severity | string)[];
  kinds: string[];
  config: Record<string, unknown>;
  secrets_set: string[];
  revealed: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export interface ChannelList {
  items: NotificationChannel[];
  websocket_default: boolean;
}

export interface ChannelTest {
  alert_id: string;
  channel_id: number;
  status: "sent" | "failed" | string;
  error: string | null;
}

export interface PriceAlert {
  id: number;
  symbol: string;
  condition: "crosses_above" | "crosses_below" | "moves_pct" | string;
  price: string | null;
  percent: string | null;
  window_minutes: number | null;
  repeat: "once" | "repeating" | string;
  active: boolean;
  note: string;
  trigger_count: number;
  last_triggered_at: string | null;
  last_triggered_price: string | null;
  created_at: string;
}

export const ALERTS_PAGE = 25;
export const PRICE_ALERTS_PAGE = 20;

/** The statistics: the bell's unread count and the Alerts page's figures. */
export function useAlertStats() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.alertStats,
    queryFn: () => api.get<AlertStats>("/alerts/stats"),
  });
}

export function useAlerts(filters: AlertFilters, offset: number) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.alertsOf(filters, offset),
    queryFn: () =>
      api.get<Page<Alert>>("/alerts", {
        severity: filters.severity || undefined,
        kind: filters.kind || undefined,
        read: filters.read || undefined,
        limit: ALERTS_PAGE,
        offset,
      }),
    placeholderData: keepPreviousData,
  });
}

export function useNotificationChannels() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.notificationChannels,
    queryFn: () => api.get<ChannelList>("/notification-channels"),
  });
}

export function usePriceAlerts(offset: number) {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.priceAlertsOf(offset),
    queryFn: () => api.get<Page<PriceAlert>>("/price-alerts", { limit: PRICE_ALERTS_PAGE, offset }),
    placeholderData: keepPreviousData,
  });
}
