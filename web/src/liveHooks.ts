/** React hooks over the live feed (live.ts): channels a component listens to while mounted. */
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { useClients } from "./context";
import type { LiveStatus } from "./live";

type Handler = (data: unknown, channel: string) => void;

/** Receive the frames of these channels while mounted; the handler may change freely. */
export function useChannels(channels: readonly string[], handler: Handler): void {
  const { live } = useClients();
  const current = useRef(handler);
  useEffect(() => {
    current.current = handler;
  });
  const key = channels.join("\n");
  useEffect(() => {
    const stops = key
      .split("\n")
      .filter(Boolean)
      .map((channel) => live.on(channel, (data, from) => current.current(data, from)));
    return () => stops.forEach((stop) => stop());
  }, [live, key]);
}

export function useLiveStatus(): LiveStatus {
  const { live } = useClients();
  return useSyncExternalStore(
    (changed) => live.onStatus(() => changed()),
    () => live.status,
  );
}

/** The last traded price of each symbol from `ticks:SYMBOL` while mounted (display only). */
export function useMarks(symbols: readonly string[]): Record<string, number> {
  const [marks, setMarks] = useState<Record<string, number>>({});
  useChannels(
    symbols.map((symbol) => `ticks:${symbol}`),
    (data) => {
      const tick = data as { symbol?: string; price?: number };
      if (typeof tick.symbol !== "string" || typeof tick.price !== "number") return;
      const { symbol, price } = tick;
      setMarks((held) => (held[symbol] === price ? held : { ...held, [symbol]: price }));
    },
  );
  return marks;
}
