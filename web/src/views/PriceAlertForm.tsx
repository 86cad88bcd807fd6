/**
 * A new price alert (POST /price-alerts): "SYMBOL crosses above/below PRICE" or "moves X%
 * within N minutes", once or repeating. Opened from the watchlist and the chart (a dialog,
 * started from the symbol and its last price) and on the Alerts page (inline).
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useClients } from "../context";
import { keys } from "../server/keys";
import type { PriceAlert } from "../server/alerts";
import { ErrorBox, invalid } from "../ui/errors";
import { useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";

const CONDITIONS: [string, string][] = [
  ["crosses_above", "crosses above"],
  ["crosses_below", "crosses below"],
  ["moves_pct", "moves by"],
];

/** A price as a plain decimal string for the form (no grouping). */
function plainPrice(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? ""
    : String(Number(value.toPrecision(10)));
}

export function PriceAlertForm({
  symbol: initialSymbol,
  last,
  done,
  id = "price-alert-form",
}: {
  symbol: string;
  /** The last price: the crossing price starts from it. */
  last?: number | null;
  done?: (made: PriceAlert) => void;
  id?: string;
}) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [symbol, setSymbol] = useState(initialSymbol);
  const [condition, setCondition] = useState("crosses_above");
  const [price, setPrice] = useState(plainPrice(last));
  const [percent, setPercent] = useState("2");
  const [windowMinutes, setWindowMinutes] = useState("15");
  const [repeat, setRepeat] = useState("once");
  const [note, setNote] = useState("");
  const moves = condition === "moves_pct";
  const create = useMutation({
    mutationFn: () =>
      api.post<PriceAlert>("/price-alerts", {
        symbol: symbol.trim().toUpperCase(),
        condition,
        ...(moves
          ? { percent: percent.trim(), window_minutes: Number(windowMinutes) }
          : { price: price.trim() }),
        repeat,
        ...(note.trim() ? { note: note.trim() } : {}),
      }),
    onSuccess: (made) => {
      toast(`Price alert set: ${describeCondition(made)}`);
      void queryClient.invalidateQueries({ queryKey: keys.priceAlerts });
      done?.(made);
    },
  });
  const error = create.error;
  return (
    <form
      id={id}
      className="price-alert-form"
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate();
      }}
    >
      <div className="row3">
        <Field label="Symbol">
          <input
            name="symbol"
            required
            autoComplete="off"
            value={symbol}
            onChange={(event) => setSymbol(event.target.value)}
            {...invalid(error, "symbol")}
          />
        </Field>
        <Field label="When it">
          <Select
            name="condition"
            options={CONDITIONS}
            value={condition}
            onChange={(event) => setCondition(event.target.value)}
          />
        </Field>
        {moves ? (
          <>
            <Field label="Percent">
              <input
                name="percent"
                type="number"
                min="0"
                max="100"
                step="any"
                required
                value={percent}
                onChange={(event) => setPercent(event.target.value)}
                {...invalid(error, "percent")}
              />
            </Field>
            <Field label="Within (minutes)">
              <input
                name="window_minutes"
                type="number"
                min="1"
                max="1440"
                step="1"
                required
                value={windowMinutes}
                onChange={(event) => setWindowMinutes(event.target.value)}
                {...invalid(error, "window_minutes")}
              />
            </Field>
          </>
        ) : (
          <Field label="Price">
            <input
              name="price"
              type="number"
              min="0"
              step="any"
              required
              value={price}
              onChange={(event) => setPrice(event.target.value)}
              {...invalid(error, "price")}
            />
          </Field>
        )}
        <Field label="Repeat">
          <Select
            name="repeat"
            options={[
              ["once", "once"],
              ["repeating", "every time"],
            ]}
            value={repeat}
            onChange={(event) => setRepeat(event.target.value)}
          />
        </Field>
        <Field label="Note">
          <input
            name="note"
            maxLength={200}
            value={note}
            onChange={(event) => setNote(event.target.value)}
            {...invalid(error, "note")}
          />
        </Field>
      </div>
      <ErrorBox error={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Set alert
        </button>
      </div>
    </form>
  );
}

/** "BTCUSDT crosses above 91,000" / "INFY moves 2.5% within 15 min". */
export function describeCondition(a: PriceAlert): string {
  if (a.condition === "moves_pct")
    return `${a.symbol} moves ${a.percent}% within ${a.window_minutes} min`;
  const word = a.condition === "crosses_below" ? "below" : "above";
  return `${a.symbol} crosses ${word} ${a.price}`;
}

/** The form in a modal dialog (the watchlist's and the chart's bell). */
export function PriceAlertDialog({
  symbol,
  last,
  close,
}: {
  symbol: string;
  last: number | null;
  close: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  return (
    <dialog ref={dialog} className="sheet" id="price-alert-dialog" onClose={close}>
      <div className="card-head">
        <h3>{`Price alert: ${symbol}`}</h3>
        <span className="spacer" />
        <button type="button" className="small secondary" onClick={() => dialog.current?.close()}>
          Cancel
        </button>
      </div>
      <PriceAlertForm symbol={symbol} last={last} done={() => dialog.current?.close()} />
    </dialog>
  );
}
