/**
 * The watchlist: symbols with live prices from `ticks:SYMBOL`; a click selects the symbol,
 * the bell sets a price alert on it.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useClients, useSelection } from "../context";
import { price, time } from "../format";
import { useChannels } from "../liveHooks";
import { applyTick } from "../server/liveCache";
import {
  DEFAULT_PREFERENCES,
  MAX_WATCHLIST,
  usePreferences,
  useUpdatePreferences,
} from "../server/preferences";
import { instrumentQuery, useInstrumentSearch, useQuotes } from "../server/queries";
import type { Quote, TickFrame } from "../types";
import { ErrorBox, routeMissing } from "../ui/errors";
import { ClosedNote } from "../ui/MarketState";
import { BellIcon } from "./AlertBell";
import { PriceAlertDialog } from "./PriceAlertForm";

const SEARCH_DELAY_MS = 200;

export function Watchlist() {
  const { api } = useClients();
  const { symbol: selected, setSymbol } = useSelection();
  const queryClient = useQueryClient();
  // The list is a preference of the user, kept on the server (not in this browser).
  const symbols = (usePreferences().data ?? DEFAULT_PREFERENCES).watchlist;
  const update = useUpdatePreferences();
  const [text, setText] = useState("");
  const search = useInstrumentSearch(useDebounced(text.trim(), SEARCH_DELAY_MS));
  const quotes = useQuotes(symbols);
  const [alertOn, setAlertOn] = useState<string | null>(null);

  useChannels(
    symbols.map((s) => `ticks:${s}`),
    (data) => applyTick(queryClient, data as TickFrame),
  );

  const add = useMutation({
    mutationFn: async (symbol: string) => {
      try {
        await queryClient.fetchQuery(instrumentQuery(api, symbol));
      } catch (error) {
        if (!routeMissing(error)) throw error; // no instrument route yet: take the symbol as typed
      }
      return symbol;
    },
    onSuccess: (symbol) => {
      const watchlist =
        symbols.includes(symbol) || symbols.length >= MAX_WATCHLIST
          ? symbols
          : [...symbols, symbol];
      update({ watchlist, symbol });
      setText("");
    },
  });

  return (
    <section className="card watchlist" id="watchlist">
      <h2>Watchlist</h2>
      <form
        className="inline"
        onSubmit={(event) => {
          event.preventDefault();
          const symbol = text.trim().toUpperCase();
          if (symbol) add.mutate(symbol);
          else add.reset();
        }}
      >
        <input
          name="symbol"
          list="instrument-options"
          placeholder="Add symbol"
          autoComplete="off"
          aria-label="Symbol to add"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <datalist id="instrument-options">
          {(text.trim() ? (search.data ?? []) : []).map((i) => (
            <option key={i.symbol} value={i.symbol}>{`${i.name} (${i.exchange})`}</option>
          ))}
        </datalist>
        <button type="submit">Add</button>
      </form>
      <ErrorBox error={add.error} />
      <table className="grid compact">
        <thead>
          <tr>
            <th>Symbol</th>
            <th className="num">Last</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {symbols.map((symbol) => (
            <Row
              key={symbol}
              symbol={symbol}
              quote={quotes.data?.find((q) => q.symbol === symbol)}
              selected={symbol === selected}
              select={() => setSymbol(symbol)}
              remove={() => update({ watchlist: symbols.filter((s) => s !== symbol) })}
              alert={() => setAlertOn(symbol)}
            />
          ))}
        </tbody>
      </table>
      {alertOn ? (
        <PriceAlertDialog
          symbol={alertOn}
          last={quotes.data?.find((q) => q.symbol === alertOn)?.price ?? null}
          close={() => setAlertOn(null)}
        />
      ) : null}
    </section>
  );
}

function Row({
  symbol,
  quote,
  selected,
  select,
  remove,
  alert,
}: {
  symbol: string;
  quote: Quote | undefined;
  selected: boolean;
  select: () => void;
  remove: () => void;
  alert: () => void;
}) {
  const last = quote?.price ?? null;
  // The direction of the last change colours the price; a missing price keeps the one shown.
  const [shown, setShown] = useState<{ price: number | null; direction: string }>({
    price: null,
    direction: "",
  });
  if (last !== null && last !== shown.price)
    setShown({
      price: last,
      direction: shown.price === null ? "" : last > shown.price ? "up" : "down",
    });
  return (
    <tr data-symbol={symbol} className={selected ? "selected" : undefined} onClick={select}>
      <td className="sym">
        {symbol}
        <ClosedNote exchange={quote?.exchange} className="market-closed sub" withExchange={false} />
      </td>
      <td className={`num ${shown.direction}`} title={quote?.ts ? `at ${time(quote.ts)}` : ""}>
        {shown.price === null ? "-" : price(shown.price)}
      </td>
      <td className="end nowrap">
        <button
          type="button"
          className="icon price-alert"
          title={`Price alert on ${symbol}`}
          aria-label={`Price alert on ${symbol}`}
          onClick={(event) => {
            event.stopPropagation();
            alert();
          }}
        >
          <BellIcon size={13} />
        </button>
        <button
          type="button"
          className="icon"
          title={`Remove ${symbol}`}
          aria-label={`Remove ${symbol}`}
          onClick={(event) => {
            event.stopPropagation();
            remove();
          }}
        >
          x
        </button>
      </td>
    </tr>
  );
}

/** The value once it has stopped changing for `delay` ms. */
function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
