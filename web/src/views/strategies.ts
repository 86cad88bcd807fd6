/** Strategy catalog, subscriptions (create/pause/resume/delete) and recent signals. */
import { ApiError } from "../api";
import { ErrorBox, busy, confirmDialog, field, h, notAvailable, select, toast } from "../dom";
import { money, percent, price, time } from "../format";
import { schemaForm, type SchemaForm } from "../schemaForm";
import type { AppContext, View } from "../state";
import type { JsonSchema, Signal, Strategy, StrategyCatalog, Subscription } from "../types";

const ALL_TIMEFRAMES = ["1m", "5m", "15m", "1h", "1d"];
const MAX_SIGNALS = 100;

/** Used when the catalog does not carry the sizing methods' schemas (see docs/strategies.md). */
const SIZING_FALLBACK: Record<string, JsonSchema> = {
  fixed_fractional: {
    properties: {
      risk_fraction: {
        type: "number",
        format: "decimal",
        default: "0.01",
        exclusiveMinimum: 0,
        maximum: 0.2,
        description: "share of equity risked per trade",
      },
    },
  },
  kelly: {
    properties: {
      win_rate: {
        type: "number",
        format: "decimal",
        default: "0.5",
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
      },
      payoff_ratio: { type: "number", format: "decimal", default: "1.5", exclusiveMinimum: 0 },
      fraction: {
        type: "number",
        format: "decimal",
        default: "0.5",
        exclusiveMinimum: 0,
        maximum: 1,
      },
      max_risk_fraction: {
        type: "number",
        format: "decimal",
        default: "0.05",
        exclusiveMinimum: 0,
        maximum: 0.2,
      },
    },
  },
  volatility: {
    properties: {
      risk_fraction: {
        type: "number",
        format: "decimal",
        default: "0.01",
        exclusiveMinimum: 0,
        maximum: 0.2,
      },
      atr_period: { type: "integer", default: 14, minimum: 2, maximum: 100 },
      atr_multiple: {
        type: "number",
        format: "decimal",
        default: "2",
        exclusiveMinimum: 0,
        maximum: 20,
      },
    },
  },
};

export function strategiesView(app: AppContext): View {
  const catalogHost = h("div", { class: "catalog" });
  const formHost = h("div", { class: "card subscribe", hidden: true });
  const subsBody = h("tbody");
  const subsNotice = h("div");
  const subsErrors = new ErrorBox();
  const signalsBody = h("tbody");
  const signalsNotice = h("div");
  const signals: Signal[] = [];
  const seenSignals = new Set<string>();
  let sizingSchemas = SIZING_FALLBACK;

  const loadCatalog = async (): Promise<void> => {
    try {
      const raw = await app.api.get<StrategyCatalog | Strategy[]>("/strategies");
      const strategies = Array.isArray(raw) ? raw : (raw.items ?? raw.strategies ?? []);
      if (!Array.isArray(raw))
        sizingSchemas = raw.sizing_schemas ?? raw.sizing_methods ?? SIZING_FALLBACK;
      catalogHost.replaceChildren(...strategies.map(strategyCard));
      if (!strategies.length)
        catalogHost.replaceChildren(h("p", { class: "muted" }, "No strategies installed."));
    } catch (error) {
      catalogHost.replaceChildren(
        error instanceof ApiError && error.routeMissing
          ? notAvailable("Strategy catalog")
          : h("p", { class: "error" }, String((error as Error).message)),
      );
    }
  };

  const strategyCard = (s: Strategy): HTMLElement =>
    h(
      "article",
      { class: "strategy", dataset: { strategy: s.name } },
      h("h3", null, h("code", { text: s.name })),
      h("p", { text: s.description }),
      h(
        "p",
        { class: "small muted" },
        `Timeframes: ${(s.timeframes ?? ALL_TIMEFRAMES).join(", ")}`,
        s.warmup ? ` · warm-up ${s.warmup} bars` : "",
      ),
      h("button", { type: "button", class: "small", onclick: () => openForm(s) }, "Subscribe..."),
    );

  const openForm = (s: Strategy): void => {
    const params = schemaForm(s.params_schema ?? s.parameters ?? s.schema, "params", s.defaults);
    const symbols = h("input", {
      name: "symbols",
      required: true,
      value: app.symbol.value,
      placeholder: "RELIANCE, INFY",
    });
    const timeframes = s.timeframes?.length ? s.timeframes : ALL_TIMEFRAMES;
    const timeframe = select(
      "timeframe",
      timeframes,
      timeframes.includes("5m") ? "5m" : timeframes[0],
    );
    const accounts = app.accounts.value ?? [];
    const account = select(
      "broker_account_id",
      accounts.map((a) => [String(a.id), `${a.label} (${a.currency})`] as [string, string]),
      String(app.accountId.value ?? ""),
    );
    const capital = h("input", {
      name: "capital_allocation",
      type: "number",
      min: "0",
      step: "0.01",
      required: true,
      value: "10000",
    });
    const mode = select("mode", ["paper", "live"], "paper");
    const methods = Object.keys(sizingSchemas);
    const sizingMethod = select(
      "sizing_method",
      methods,
      methods.includes("fixed_fractional") ? "fixed_fractional" : methods[0],
    );
    const sizingHost = h("div");
    let sizing: SchemaForm = schemaForm(sizingSchemas[sizingMethod.value], "sizing_params");
    sizingHost.replaceChildren(sizing.el);
    sizingMethod.addEventListener("change", () => {
      sizing = schemaForm(sizingSchemas[sizingMethod.value], "sizing_params");
      sizingHost.replaceChildren(sizing.el);
    });
    const submit = h("button", { type: "submit", class: "primary" }, "Create subscription");
    const cancel = h(
      "button",
      { type: "button", class: "secondary", onclick: () => (formHost.hidden = true) },
      "Close",
    );
    const form = h(
      "form",
      { id: "subscription-form" },
      h("h3", null, "Subscribe ", h("code", { text: s.name })),
      h(
        "div",
        { class: "row2" },
        field("Symbols", symbols, "comma-separated"),
        field("Timeframe", timeframe),
      ),
      h("div", { class: "row2" }, field("Broker account", account), field("Mode", mode)),
      h(
        "div",
        { class: "row2" },
        field("Capital allocation", capital),
        field("Sizing", sizingMethod),
      ),
      h("fieldset", null, h("legend", null, "Strategy parameters"), params.el),
      h("fieldset", null, h("legend", null, "Sizing parameters"), sizingHost),
    );
    const errors = new ErrorBox(form);
    form.append(errors.el, h("div", { class: "actions" }, cancel, submit));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {
        strategy: s.name,
        params: params.values(),
        symbols: symbols.value
          .split(/[\s,]+/)
          .map((x) => x.trim().toUpperCase())
          .filter(Boolean),
        timeframe: timeframe.value,
        broker_account_id: Number(account.value),
        sizing_method: sizingMethod.value,
        sizing_params: sizing.values(),
        capital_allocation: capital.value,
        mode: mode.value,
      };
      void busy(submit, errors, async () => {
        if (!account.value) throw new Error("Create a broker account first (Broker accounts tab).");
        try {
          await app.api.post<Subscription>("/subscriptions", body);
        } catch (error) {
          if (error instanceof ApiError && error.routeMissing)
            throw new Error("Subscriptions: not available yet.");
          throw error;
        }
        toast(`Subscribed ${s.name}`);
        formHost.hidden = true;
        void loadSubscriptions();
      });
    });
    formHost.replaceChildren(form);
    formHost.hidden = false;
    formHost.scrollIntoView({ behavior: "smooth", block: "nearest" });
  };

  const loadSubscriptions = async (): Promise<void> => {
    subsErrors.clear();
    try {
      const subs = await app.api.list<Subscription>("/subscriptions", { limit: 200 });
      subsNotice.replaceChildren();
      subsBody.replaceChildren(
        ...(subs.length
          ? subs.map(subscriptionRow)
          : [
              h(
                "tr",
                null,
                h(
                  "td",
                  { colspan: 8, class: "muted" },
                  "No subscriptions yet: pick a strategy above.",
                ),
              ),
            ]),
      );
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing)
        subsNotice.replaceChildren(notAvailable("Subscriptions"));
      else subsErrors.show(error);
    }
  };

  const subscriptionRow = (sub: Subscription): HTMLTableRowElement => {
    const paused = isPaused(sub);
    const account = app.accounts.value?.find((a) => a.id === sub.broker_account_id);
    const act = (verb: "pause" | "resume") =>
      busy(null, subsErrors, async () => {
        await app.api.post(`/subscriptions/${sub.id}/${verb}`, {});
        await loadSubscriptions();
      });
    const remove = async (): Promise<void> => {
      if (
        !(await confirmDialog(
          `Delete subscription ${sub.id}?`,
          `${sub.strategy} on ${sub.symbols.join(", ")} stops and is removed.`,
          "Delete",
        ))
      )
        return;
      await busy(null, subsErrors, async () => {
        await app.api.delete(`/subscriptions/${sub.id}`);
        await loadSubscriptions();
      });
    };
    return h(
      "tr",
      { dataset: { subscription: String(sub.id) } },
      h("td", null, h("code", { text: sub.strategy })),
      h("td", null, sub.symbols.join(", ")),
      h("td", null, sub.timeframe),
      h("td", null, account?.label ?? `#${sub.broker_account_id}`),
      h("td", null, sub.mode),
      h("td", { class: "num" }, money(sub.capital_allocation)),
      h(
        "td",
        null,
        h(
          "span",
          { class: `status ${paused ? "status-paused" : "status-open"}` },
          sub.status ?? (paused ? "paused" : "active"),
        ),
      ),
      h(
        "td",
        { class: "nowrap" },
        h(
          "button",
          {
            type: "button",
            class: "small secondary",
            onclick: () => void act(paused ? "resume" : "pause"),
          },
          paused ? "Resume" : "Pause",
        ),
        " ",
        h(
          "button",
          { type: "button", class: "small danger", onclick: () => void remove() },
          "Delete",
        ),
      ),
    );
  };

  const renderSignals = (): void => {
    signalsBody.replaceChildren(
      ...(signals.length
        ? signals.map((sig) =>
            h(
              "tr",
              null,
              h("td", { class: "small" }, time(sig.candle_end ?? sig.ts)),
              h("td", null, h("code", { text: sig.strategy })),
              h("td", { class: "sym" }, sig.symbol),
              h("td", null, sig.timeframe),
              h(
                "td",
                { class: sig.action === "BUY" ? "up" : sig.action === "SELL" ? "down" : "" },
                sig.action,
              ),
              h("td", { class: "num" }, percent(sig.confidence)),
              h("td", { class: "num" }, price(sig.price)),
              h("td", { class: "num small" }, `${price(sig.stop)} / ${price(sig.target)}`),
              h("td", { class: "small" }, sig.reason ?? ""),
            ),
          )
        : [h("tr", null, h("td", { colspan: 9, class: "muted" }, "No signals yet."))]),
    );
  };

  const addSignal = (sig: Signal, front: boolean): void => {
    const key = String(
      sig.signal_id ??
        sig.id ??
        `${sig.subscription_id}:${sig.symbol}:${sig.candle_end}:${sig.action}`,
    );
    if (seenSignals.has(key)) return;
    seenSignals.add(key);
    if (front) signals.unshift(sig);
    else signals.push(sig);
    if (signals.length > MAX_SIGNALS) signals.length = MAX_SIGNALS;
  };

  const loadSignals = async (): Promise<void> => {
    try {
      const items = await app.api.list<Signal>("/signals", { limit: 50 });
      signals.length = 0;
      seenSignals.clear();
      for (const sig of items) addSignal(sig, false);
      signalsNotice.replaceChildren();
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing)
        signalsNotice.replaceChildren(notAvailable("Signal history (live signals still appear)"));
    }
    renderSignals();
  };

  const stops = [
    app.live.on("signals", (data) => {
      addSignal(data as Signal, true);
      renderSignals();
    }),
    app.live.onResync(() => void loadSignals()),
  ];
  void loadCatalog();
  void loadSubscriptions();
  void loadSignals();

  const el = h(
    "section",
    { class: "strategies", id: "strategies" },
    h("div", { class: "card" }, h("h2", { text: "Strategies" }), catalogHost),
    formHost,
    h(
      "div",
      { class: "card" },
      h(
        "div",
        { class: "card-head" },
        h("h2", { text: "My subscriptions" }),
        h("span", { class: "spacer" }),
        h(
          "button",
          { type: "button", class: "secondary", onclick: () => void loadSubscriptions() },
          "Refresh",
        ),
      ),
      subsNotice,
      subsErrors.el,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "grid" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ...["Strategy", "Symbols", "TF", "Account", "Mode", "Capital", "State", ""].map((t) =>
                h("th", null, t),
              ),
            ),
          ),
          subsBody,
        ),
      ),
    ),
    h(
      "div",
      { class: "card" },
      h("h2", { text: "Recent signals" }),
      signalsNotice,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "grid", id: "signals" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ...[
                "Time",
                "Strategy",
                "Symbol",
                "TF",
                "Action",
                "Conf.",
                "Price",
                "Stop / target",
                "Reason",
              ].map((t) => h("th", null, t)),
            ),
          ),
          signalsBody,
        ),
      ),
    ),
  );
  return {
    el,
    shown: () => void loadSubscriptions(),
    dispose: () => stops.forEach((stop) => stop()),
  };
}

function isPaused(sub: Subscription): boolean {
  return (
    sub.paused === true || sub.is_active === false || (sub.status ?? "").toLowerCase() === "paused"
  );
}
