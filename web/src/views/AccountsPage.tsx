/** Broker accounts: list, create a paper account, remove one. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients, useSelection } from "../context";
import { money, time } from "../format";
import { keys } from "../server/keys";
import { useAccounts, useInstrument } from "../server/queries";
import type { BrokerAccount } from "../types";
import { ErrorBox, invalid } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";

/** An account trades only instruments quoted in its currency (no conversion yet). */
const PAPER_CURRENCIES = ["INR", "USDT", "USD"];
/** [title, class]: p2 gives way first on a narrow card, then p3, then p4. */
const COLUMNS: [string, string][] = [
  ["Label", ""],
  ["Broker", "p3"],
  ["Starting capital", "num"],
  ["Credentials", "p2"],
  ["State", "p3"],
  ["Created", "p4"],
  ["", ""],
];

export function AccountsPage() {
  const { api } = useClients();
  const { accountId, setAccountId } = useSelection();
  const accounts = useAccounts();
  const queryClient = useQueryClient();
  const confirm = useConfirm();

  const remove = useMutation({
    mutationFn: (account: BrokerAccount) => api.delete(`/broker-accounts/${account.id}`),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.accounts }),
  });

  return (
    <section className="accounts two-col" id="accounts">
      <div className="card">
        <h2>Broker accounts</h2>
        <ErrorBox error={remove.error ?? accounts.error} />
        <div className="scroll">
          <table className="grid" id="account-list">
            <thead>
              <tr>
                {COLUMNS.map(([title, cls], i) => (
                  <th key={i} className={cls || undefined}>
                    {title}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {accounts.data === undefined ? (
                <tr>
                  <td colSpan={COLUMNS.length} className="muted">
                    {accounts.isError ? "" : "Loading..."}
                  </td>
                </tr>
              ) : accounts.data.length ? (
                accounts.data.map((a) => (
                  <tr
                    key={a.id}
                    data-account={String(a.id)}
                    className={a.id === accountId ? "selected" : undefined}
                  >
                    <td className="wrap">{a.label}</td>
                    <td className="p3">{a.broker}</td>
                    <td className="num">{`${money(a.starting_capital)} ${a.currency}`}</td>
                    <td className="p2">{a.credentials_hint ?? "-"}</td>
                    <td className="p3">{a.is_active ? "active" : "inactive"}</td>
                    <td className="small p4">{time(a.created_at)}</td>
                    <td className="end">
                      <div className="row-actions">
                        <button
                          type="button"
                          className="small secondary"
                          onClick={() => setAccountId(a.id)}
                        >
                          Use
                        </button>{" "}
                        <button
                          type="button"
                          className="small danger"
                          onClick={async () => {
                            const ok = await confirm(
                              `Delete "${a.label}"?`,
                              "The account and its link to the broker are removed.",
                              "Delete",
                            );
                            if (ok) remove.mutate(a);
                          }}
                        >
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))
              ) : (
                <tr>
                  <td colSpan={COLUMNS.length} className="muted">
                    No broker accounts yet: create a paper account to start.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </div>
      <div className="card">
        <h2>New paper account</h2>
        <NewAccountForm />
      </div>
    </section>
  );
}

function NewAccountForm() {
  const { api } = useClients();
  const { symbol, setAccountId } = useSelection();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [label, setLabel] = useState("");
  const [capital, setCapital] = useState("");
  // The currency of the selected symbol is proposed until the user picks one.
  const [picked, setPicked] = useState<string | null>(null);
  const quoted = useInstrument(symbol).data?.currency;
  const currency = picked ?? (quoted && PAPER_CURRENCIES.includes(quoted) ? quoted : "INR");

  const create = useMutation({
    mutationFn: () => {
      const payload: Record<string, unknown> = { broker: "paper", label: label.trim(), currency };
      if (capital) payload.starting_capital = capital;
      return api.post<BrokerAccount>("/broker-accounts", payload);
    },
    onSuccess: async (created) => {
      setLabel("");
      setCapital("");
      setPicked(null);
      toast(`Paper account "${created.label}" created`);
      await queryClient.refetchQueries({ queryKey: keys.accounts });
      setAccountId(created.id);
    },
  });

  return (
    <form
      id="account-form"
      className="stack"
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate();
      }}
    >
      <Field label="Label">
        <input
          name="label"
          required
          maxLength={100}
          placeholder="e.g. Paper - intraday"
          value={label}
          onChange={(event) => setLabel(event.target.value)}
          {...invalid(create.error, "label")}
        />
      </Field>
      <Field label="Starting capital" hint="Defaults to 50,000 INR or 10,000 USD/USDT">
        <input
          name="starting_capital"
          type="number"
          min="1"
          step="0.01"
          placeholder="50000"
          value={capital}
          onChange={(event) => setCapital(event.target.value)}
          {...invalid(create.error, "starting_capital")}
        />
      </Field>
      <Field label="Currency" hint="Trades only symbols quoted in it">
        <Select
          name="currency"
          options={PAPER_CURRENCIES}
          value={currency}
          onChange={(event) => setPicked(event.target.value)}
          {...invalid(create.error, "currency")}
        />
      </Field>
      <ErrorBox error={create.error} />
      <div className="actions">
        <button type="submit" className="primary" id="create-account" disabled={create.isPending}>
          Create paper account
        </button>
      </div>
    </form>
  );
}
