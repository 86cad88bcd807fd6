/**
 * The user's dashboard preferences (watchlist, selected symbol, theme, layout), kept on the server
 * (GET/PUT /users/me/preferences) so they follow the user and not the browser. The cache is
 * updated at once and the whole set is written behind; a failed write re-reads the server's.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";
import { ApiError, type Api } from "../api";
import { useClients } from "../context";
import type { Preferences } from "../types";
import { keys } from "./keys";

export const DEFAULT_PREFERENCES: Preferences = {
  watchlist: ["RELIANCE", "TCS", "INFY", "HDFCBANK", "BTCUSDT"],
  symbol: null,
  theme: "system",
  layout: { density: "comfortable", hidden_panels: [] },
};
export const MAX_WATCHLIST = 50;

async function readPreferences(api: Api): Promise<Preferences> {
  try {
    return await api.get<Preferences>("/users/me/preferences");
  } catch (error) {
    // An API without preferences yet: the defaults, kept for this page's life only.
    if (error instanceof ApiError && error.routeMissing) return DEFAULT_PREFERENCES;
    throw error;
  }
}

export function usePreferences() {
  const { api } = useClients();
  return useQuery({
    queryKey: keys.preferences,
    queryFn: () => readPreferences(api),
    staleTime: Infinity,
  });
}

/** Change some preferences: shown at once, saved behind. */
export function useUpdatePreferences(): (change: Partial<Preferences>) => void {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: (next: Preferences) =>
      api.put<Preferences>("/users/me/preferences", {
        watchlist: next.watchlist,
        symbol: next.symbol,
        theme: next.theme,
        layout: next.layout ?? DEFAULT_PREFERENCES.layout,
      }),
    onError: (error) => {
      if (!(error instanceof ApiError && error.routeMissing))
        void queryClient.invalidateQueries({ queryKey: keys.preferences });
    },
  });
  const { mutate } = save;
  return useCallback(
    (change: Partial<Preferences>) => {
      const apply = (held: Preferences) => {
        const next = { ...held, ...change };
        queryClient.setQueryData(keys.preferences, next);
        mutate(next);
      };
      const held = queryClient.getQueryData<Preferences>(keys.preferences);
      if (held) {
        apply(held);
        return;
      }
      // Not read yet (a click right after signing in): change what the server holds once it
      // has arrived, so that the late answer does not undo the change and the write does not
      // put the defaults over the saved preferences.
      void queryClient
        .ensureQueryData({ queryKey: keys.preferences, queryFn: () => readPreferences(api) })
        .then(apply, () => apply(DEFAULT_PREFERENCES));
    },
    [queryClient, mutate, api],
  );
}
