/** The watchlist: symbols with live prices from `ticks:SYMBOL`; a click selects the symbol. */
import { ApiError } from "../api";
import { ErrorBox, h } from "../dom";
import { price, time } from "../format";
import type { AppContext, View } from "../state";
import type { Instrument, Quote, TickFrame } from "../types";

const STORAGE_KEY = "algotrade.watchlist";
const DEFAULT_SYMBOLS = ["RELIANCE", "TCS", "INFY", "HDFCBANK", "BTCUSDT"];
const MAX_SYMBOLS = 50;

interface Row {
  tr: HTMLTableRowElement;
  price: HTMLTableCellElement;
  last: number | null;
  stop: () => void;
}

export function watchlistView(app: AppContext): View {
  const rows = new Map<string, Row>();
  const body = h("tbody");
  const input = h("input", {
    name: "symbol",
    list: "instrument-options",
    placeholder: "Add symbol",
    autocomplete: "off",
    "aria-label": "Symbol to add",
  });
  const options = h("datalist", { id: "instrument-options" });
  const form = h(
    "form",
    { class: "inline" },
    input,
    options,
    h("button", { type: "submit" }, "Add"),
  );
  const errors = new ErrorBox(form);

  const save = (): void => localStorage.setItem(STORAGE_KEY, JSON.stringify([...rows.keys()]));

  const setPrice = (symbol: string, value: number | null, ts: string | null): void => {
    const row = rows.get(symbol);
    if (!row || value === null) return;
    const direction =
      row.last === null || value === row.last ? "" : value > row.last ? "up" : "down";
    row.last = value;
    row.price.textContent = price(value);
    row.price.className = `num ${direction}`;
    row.price.title = ts ? `at ${time(ts)}` : "";
  };

  const add = (symbol: string): void => {
    if (rows.has(symbol) || rows.size >= MAX_SYMBOLS) return;
    const priceCell = h("td", { class: "num", text: "-" });
    const remove = h(
      "button",
      {
        type: "button",
        class: "icon",
        title: `Remove ${symbol}`,
        "aria-label": `Remove ${symbol}`,
      },
      "x",
    );
    const tr = h(
      "tr",
      { dataset: { symbol } },
      h("td", { class: "sym", text: symbol }),
      priceCell,
      h("td", { class: "end" }, remove),
    );
    tr.addEventListener("click", () => app.symbol.set(symbol));
    remove.addEventListener("click", (event) => {
      event.stopPropagation();
      rows.get(symbol)?.stop();
      rows.delete(symbol);
      tr.remove();
      save();
    });
    const stop = app.live.on(`ticks:${symbol}`, (data) => {
      const tick = data as TickFrame;
      setPrice(symbol, tick.price, tick.ts);
    });
    rows.set(symbol, { tr, price: priceCell, last: null, stop });
    body.appendChild(tr);
    tr.classList.toggle("selected", symbol === app.symbol.value);
  };

  const loadQuotes = async (symbols: string[]): Promise<void> => {
    if (!symbols.length) return;
    try {
      const quotes = await app.api.get<Quote[]>("/market/quotes", { symbols: symbols.join(",") });
      for (const quote of quotes) setPrice(quote.symbol, quote.price, quote.ts);
    } catch (error) {
      // Quotes are a nicety: live ticks fill the prices in anyway.
      if (!(error instanceof ApiError)) throw error;
    }
  };

  let searchTimer: number | undefined;
  input.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    const q = input.value.trim();
    if (q.length < 1) return;
    searchTimer = window.setTimeout(async () => {
      try {
        const found = await app.api.get<Instrument[]>("/instruments", { q, limit: 10 });
        options.replaceChildren(
          ...found.map((i) => h("option", { value: i.symbol }, `${i.name} (${i.exchange})`)),
        );
      } catch {
        options.replaceChildren();
      }
    }, 200);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const symbol = input.value.trim().toUpperCase();
    if (!symbol) return;
    try {
      await app.api.get<Instrument>(`/instruments/${encodeURIComponent(symbol)}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.routeMissing)) {
        errors.show(error);
        return;
      }
    }
    add(symbol);
    save();
    input.value = "";
    app.symbol.set(symbol);
    void loadQuotes([symbol]);
  });

  const stored = readStored();
  for (const symbol of stored) add(symbol);
  void loadQuotes(stored);

  const unselect = app.symbol.subscribe((symbol) => {
    for (const [name, row] of rows) row.tr.classList.toggle("selected", name === symbol);
  });
  const unresync = app.live.onResync(() => void loadQuotes([...rows.keys()]));

  const el = h(
    "section",
    { class: "card watchlist", id: "watchlist" },
    h("h2", { text: "Watchlist" }),
    form,
    errors.el,
    h(
      "table",
      { class: "grid compact" },
      h(
        "thead",
        null,
        h("tr", null, h("th", null, "Symbol"), h("th", { class: "num" }, "Last"), h("th")),
      ),
      body,
    ),
  );
  return {
    el,
    dispose: () => {
      unselect();
      unresync();
      for (const row of rows.values()) row.stop();
    },
  };
}

function readStored(): string[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null") as unknown;
    if (Array.isArray(parsed) && parsed.every((s) => typeof s === "string"))
      return parsed.slice(0, MAX_SYMBOLS);
  } catch {
    // a damaged entry: start over with the defaults
  }
  return DEFAULT_SYMBOLS;
}
