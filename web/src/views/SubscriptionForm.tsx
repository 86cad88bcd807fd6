/**
 * Subscribe to a strategy: symbols, timeframe, account, mode, capital and sizing, with the
 * strategy's and the sizing method's parameters as forms built from their JSON Schemas.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api";
import { useClients, useSelection } from "../context";
import { ParamsForm, type ParamsFormHandle } from "../params/ParamsForm";
import { keys } from "../server/keys";
import { useAccounts } from "../server/queries";
import type { JsonSchema, Strategy, Subscription } from "../types";
import { ErrorBox, invalid } from "../ui/errors";
import { useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";
import { strategyTitle } from "./strategyTitle";

export const ALL_TIMEFRAMES = ["1m", "5m", "15m", "1h", "1d"];
/** Brokers that trade on paper only (the API refuses mode "live" for their accounts). */
const PAPER_BROKERS = new Set(["paper"]);

/** Used when the catalog does not carry the sizing methods' schemas (see docs/strategies.md). */
const SIZING_FALLBACK: Record<string, JsonSchema> = {
  fixed_fractional: {
    properties: {
      risk_fraction: decimal(
        "0.01",
        { exclusiveMinimum: 0, maximum: 0.2 },
        "share of equity risked per trade",
      ),
    },
  },
  kelly: {
    properties: {
      win_rate: decimal("0.5", { exclusiveMinimum: 0, exclusiveMaximum: 1 }),
      payoff_ratio: decimal("1.5", { exclusiveMinimum: 0 }),
      fraction: decimal("0.5", { exclusiveMinimum: 0, maximum: 1 }),
      max_risk_fraction: decimal("0.05", { exclusiveMinimum: 0, maximum: 0.2 }),
    },
  },
  volatility: {
    properties: {
      risk_fraction: decimal("0.01", { exclusiveMinimum: 0, maximum: 0.2 }),
      atr_period: { type: "integer", default: 14, minimum: 2, maximum: 100 },
      atr_multiple: decimal("2", { exclusiveMinimum: 0, maximum: 20 }),
    },
  },
};

/** A Decimal the way pydantic writes it: a bounded number or a numeric string. */
function decimal(fallback: string, bounds: JsonSchema, description?: string): JsonSchema {
  return {
    anyOf: [{ type: "number", ...bounds }, { type: "string" }],
    default: fallback,
    ...(description ? { description } : {}),
  };
}

export function SubscriptionForm({
  strategy,
  sizingSchemas,
  close,
  initial,
}: {
  strategy: Strategy;
  sizingSchemas: Record<string, JsonSchema> | null | undefined;
  close: () => void;
  /** Values to start from (a backtest's parameters, symbol and timeframe). */
  initial?: { params?: Record<string, unknown>; symbol?: string; timeframe?: string };
}) {
  const { api } = useClients();
  const { accountId, symbol } = useSelection();
  const accounts = useAccounts().data ?? [];
  const queryClient = useQueryClient();
  const toast = useToast();
  const schemas = sizingSchemas ?? SIZING_FALLBACK;
  const methods = Object.keys(schemas);
  const timeframes = strategy.timeframes?.length ? strategy.timeframes : ALL_TIMEFRAMES;

  const [symbols, setSymbols] = useState(initial?.symbol ?? symbol);
  const [timeframe, setTimeframe] = useState(
    initial?.timeframe && timeframes.includes(initial.timeframe)
      ? initial.timeframe
      : timeframes.includes("5m")
        ? "5m"
        : (timeframes[0] ?? ""),
  );
  const [pickedAccount, setAccount] = useState<string | null>(null);
  const account = pickedAccount ?? String(accountId ?? accounts[0]?.id ?? "");
  const [pickedMode, setMode] = useState("paper");
  // Live trading needs a live broker account; a paper account trades in paper mode only.
  const broker = accounts.find((a) => String(a.id) === account)?.broker ?? "paper";
  const modes = PAPER_BROKERS.has(broker) ? ["paper"] : ["paper", "live"];
  const mode = modes.includes(pickedMode) ? pickedMode : "paper";
  const [capital, setCapital] = useState("10000");
  const [sizing, setSizing] = useState(
    methods.includes("fixed_fractional") ? "fixed_fractional" : (methods[0] ?? ""),
  );
  const params = useRef<ParamsFormHandle>(null);
  const sizingParams = useRef<ParamsFormHandle>(null);
  const root = useRef<HTMLFormElement>(null);

  useEffect(() => {
    root.current?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }, []);

  const subscribe = useMutation({
    mutationFn: async (body: Record<string, unknown>) => {
      if (!account) throw new Error("Create a broker account first (Broker accounts tab).");
      try {
        return await api.post<Subscription>("/subscriptions", body);
      } catch (error) {
        if (error instanceof ApiError && error.routeMissing)
          throw new Error("Subscriptions: not available yet.");
        throw error;
      }
    },
    onSuccess: () => {
      toast(`Subscribed to ${strategyTitle(strategy)}`);
      void queryClient.invalidateQueries({ queryKey: keys.subscriptions });
      close();
    },
  });
  const error = subscribe.error;

  return (
    <form
      id="subscription-form"
      ref={root}
      onSubmit={(event) => {
        event.preventDefault();
        const strategyValues = params.current ? params.current.values() : {};
        const sizingValues = sizingParams.current ? sizingParams.current.values() : {};
        if (strategyValues === null || sizingValues === null) return; // the forms show why
        subscribe.mutate({
          strategy: strategy.name,
          params: strategyValues,
          symbols: symbols
            .split(/[\s,]+/)
            .map((x) => x.trim().toUpperCase())
            .filter(Boolean),
          timeframe,
          broker_account_id: Number(account),
          sizing_method: sizing,
          sizing_params: sizingValues,
          capital_allocation: capital,
          mode,
        });
      }}
    >
      <h3>{`Subscribe: ${strategyTitle(strategy)}`}</h3>
      <div className="row2">
        <Field label="Symbols" hint="comma-separated">
          <input
            name="symbols"
            required
            placeholder="RELIANCE, INFY"
            value={symbols}
            onChange={(event) => setSymbols(event.target.value)}
            {...invalid(error, "symbols")}
          />
        </Field>
        <Field label="Timeframe">
          <Select
            name="timeframe"
            options={timeframes}
            value={timeframe}
            onChange={(event) => setTimeframe(event.target.value)}
            {...invalid(error, "timeframe")}
          />
        </Field>
      </div>
      <div className="row2">
        <Field label="Broker account">
          <Select
            name="broker_account_id"
            options={accounts.map((a) => [String(a.id), `${a.label} (${a.currency})`] as const)}
            value={account}
            onChange={(event) => setAccount(event.target.value)}
            {...invalid(error, "broker_account_id")}
          />
        </Field>
        <Field
          label="Mode"
          hint={modes.includes("live") ? undefined : "Live needs a live broker account"}
        >
          <Select
            name="mode"
            options={modes}
            value={mode}
            disabled={modes.length < 2}
            onChange={(event) => setMode(event.target.value)}
            {...invalid(error, "mode")}
          />
        </Field>
      </div>
      <div className="row2">
        <Field label="Capital allocation">
          <input
            name="capital_allocation"
            type="number"
            min="0"
            step="0.01"
            required
            value={capital}
            onChange={(event) => setCapital(event.target.value)}
            {...invalid(error, "capital_allocation")}
          />
        </Field>
        <Field label="Sizing">
          <Select
            name="sizing_method"
            options={methods}
            value={sizing}
            onChange={(event) => setSizing(event.target.value)}
            {...invalid(error, "sizing_method")}
          />
        </Field>
      </div>
      <fieldset>
        <legend>Strategy parameters</legend>
        <ParamsForm
          ref={params}
          schema={strategy.params_schema ?? strategy.parameters ?? strategy.schema}
          defaults={strategy.defaults}
          initial={initial?.params}
          prefix="params"
          serverError={error}
        />
      </fieldset>
      <fieldset>
        <legend>Sizing parameters</legend>
        <ParamsForm
          key={sizing}
          ref={sizingParams}
          schema={schemas[sizing]}
          prefix="sizing_params"
          serverError={error}
        />
      </fieldset>
      <ErrorBox error={error} />
      <div className="actions">
        <button type="button" className="secondary" onClick={close}>
          Close
        </button>
        <button type="submit" className="primary" disabled={subscribe.isPending}>
          Create subscription
        </button>
      </div>
    </form>
  );
}
