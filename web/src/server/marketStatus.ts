/**
 * Market status: each exchange open or closed, from `GET /market/status`, kept current by
 * the WebSocket's public `status` channel (a frame per exchange when it opens or closes)
 * and refetched every minute as a fallback.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useClients } from "../context";
import { useChannels } from "../liveHooks";
import type { MarketStatus } from "../types";
import { keys } from "./keys";

const REFRESH_MS = 60_000;

/** Every exchange's status; mount once per view that shows it (the cache is shared). */
export function useMarketStatus(): MarketStatus[] {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const query = useQuery({
    queryKey: keys.marketStatus,
    queryFn: () => api.get<MarketStatus[]>("/market/status"),
    refetchInterval: REFRESH_MS,
    staleTime: REFRESH_MS,
  });
  useChannels(["status"], (data) => {
    const frame = data as Partial<MarketStatus>;
    if (typeof frame.exchange !== "string" || typeof frame.is_open !== "boolean") return;
    const status = frame as MarketStatus;
    queryClient.setQueryData<MarketStatus[]>(keys.marketStatus, (held) => {
      const others = (held ?? []).filter((s) => s.exchange !== status.exchange);
      const known = (held ?? []).find((s) => s.exchange === status.exchange);
      if (known && known.ts > status.ts) return held; // an older frame than what is held
      return [...others, status].sort((a, b) => a.exchange.localeCompare(b.exchange));
    });
  });
  return query.data ?? [];
}

/** The status of one exchange (undefined while unknown). */
export function useExchangeStatus(exchange: string | undefined): MarketStatus | undefined {
  const all = useMarketStatus();
  return exchange ? all.find((s) => s.exchange === exchange) : undefined;
}

/**
 * "closed, opens Mon 09:15 IST": the next open in the exchange's own time. The zone's
 * abbreviation is the server's (its message ends with it); browsers name some zones
 * only by their offset.
 */
export function closedText(status: MarketStatus): string {
  if (status.is_open) return "open";
  const reason = status.holiday ? ` (${status.holiday})` : "";
  if (!status.next_open) return `closed${reason}`;
  const at = new Date(status.next_open);
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: status.timezone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `closed${reason}, opens ${part("weekday")} ${part("hour")}:${part("minute")} ${zoneName(status, at)}`;
}

function zoneName(status: MarketStatus, at: Date): string {
  const last = status.message.trim().split(/\s+/).pop() ?? "";
  if (/^[A-Z]{2,5}$/.test(last)) return last;
  const named = new Intl.DateTimeFormat("en-US", {
    timeZone: status.timezone,
    timeZoneName: "short",
  })
    .formatToParts(at)
    .find((p) => p.type === "timeZoneName");
  return named?.value ?? status.timezone;
}
