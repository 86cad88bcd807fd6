/** React hooks over the live feed (live.ts): channels a component listens to while mounted. */
import { useEffect, useRef, useSyncExternalStore } from "react";
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
