/** Broker accounts: list, create a paper account, remove one. */
import { ErrorBox, busy, confirmDialog, field, h, select, toast } from "../dom";
import { money, time } from "../format";
import type { AppContext, View } from "../state";
import type { BrokerAccount, Instrument } from "../types";

/** An account trades only instruments quoted in its currency (no conversion yet). */
const PAPER_CURRENCIES = ["INR", "USDT", "USD"];

export function accountsView(app: AppContext): View {
  const body = h("tbody");
  const listErrors = new ErrorBox();

  const label = h("input", {
    name: "label",
    required: true,
    maxlength: 100,
    placeholder: "e.g. Paper - intraday",
  });
  const capital = h("input", {
    name: "starting_capital",
    type: "number",
    min: "1",
    step: "0.01",
    placeholder: "50000",
  });
  const currency = select("currency", PAPER_CURRENCIES, "INR");
  // Propose the currency of the selected symbol until the user picks one.
  let currencyPicked = false;
  currency.addEventListener("change", () => (currencyPicked = true));
  const proposeCurrency = async (): Promise<void> => {
    const name = app.symbol.value;
    let proposed = "INR";
    if (name) {
      try {
        const i = await app.api.get<Instrument>(`/instruments/${encodeURIComponent(name)}`);
        if (PAPER_CURRENCIES.includes(i.currency)) proposed = i.currency;
      } catch {
        // an unknown symbol: keep INR
      }
    }
    if (!currencyPicked) currency.value = proposed;
  };
  const submit = h(
    "button",
    { type: "submit", class: "primary", id: "create-account" },
    "Create paper account",
  );
  const form = h(
    "form",
    { id: "account-form", class: "stack" },
    field("Label", label),
    field("Starting capital", capital, "Defaults to 50,000 INR or 10,000 USD/USDT"),
    field("Currency", currency, "Trades only symbols quoted in it"),
  );
  const errors = new ErrorBox(form);
  form.append(errors.el, h("div", { class: "actions" }, submit));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const payload: Record<string, unknown> = {
      broker: "paper",
      label: label.value.trim(),
      currency: currency.value,
    };
    if (capital.value) payload.starting_capital = capital.value;
    void busy(submit, errors, async () => {
      const created = await app.api.post<BrokerAccount>("/broker-accounts", payload);
      form.reset();
      currencyPicked = false;
      void proposeCurrency();
      toast(`Paper account "${created.label}" created`);
      await app.reloadAccounts();
      app.accountId.set(created.id);
    });
  });

  const render = (accounts: BrokerAccount[] | null): void => {
    if (accounts === null) {
      body.replaceChildren(h("tr", null, h("td", { colspan: 7, class: "muted" }, "Loading...")));
      return;
    }
    body.replaceChildren(
      ...(accounts.length
        ? accounts.map((a) =>
            h(
              "tr",
              {
                dataset: { account: String(a.id) },
                class: a.id === app.accountId.value ? "selected" : "",
              },
              h("td", null, a.label),
              h("td", null, a.broker),
              h("td", { class: "num" }, `${money(a.starting_capital)} ${a.currency}`),
              h("td", null, a.credentials_hint ?? "-"),
              h("td", null, a.is_active ? "active" : "inactive"),
              h("td", { class: "small" }, time(a.created_at)),
              h(
                "td",
                null,
                h(
                  "button",
                  {
                    type: "button",
                    class: "small secondary",
                    onclick: () => app.accountId.set(a.id),
                  },
                  "Use",
                ),
                " ",
                h(
                  "button",
                  { type: "button", class: "small danger", onclick: () => void remove(a) },
                  "Delete",
                ),
              ),
            ),
          )
        : [
            h(
              "tr",
              null,
              h(
                "td",
                { colspan: 7, class: "muted" },
                "No broker accounts yet: create a paper account to start.",
              ),
            ),
          ]),
    );
  };

  const remove = async (account: BrokerAccount): Promise<void> => {
    const ok = await confirmDialog(
      `Delete "${account.label}"?`,
      "The account and its link to the broker are removed.",
      "Delete",
    );
    if (!ok) return;
    await busy(null, listErrors, async () => {
      await app.api.delete(`/broker-accounts/${account.id}`);
      await app.reloadAccounts();
    });
  };

  const stops = [
    app.accounts.subscribe(render),
    app.accountId.subscribe(() => render(app.accounts.value)),
  ];
  const el = h(
    "section",
    { class: "accounts two-col", id: "accounts" },
    h(
      "div",
      { class: "card" },
      h("h2", { text: "Broker accounts" }),
      listErrors.el,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "grid", id: "account-list" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ...["Label", "Broker", "Starting capital", "Credentials", "State", "Created", ""].map(
                (t) => h("th", null, t),
              ),
            ),
          ),
          body,
        ),
      ),
    ),
    h("div", { class: "card" }, h("h2", { text: "New paper account" }), form),
  );
  return {
    el,
    shown: () => {
      void app.reloadAccounts();
      void proposeCurrency();
    },
    dispose: () => stops.forEach((stop) => stop()),
  };
}
