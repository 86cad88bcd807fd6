/** Strategy catalog, subscriptions (create/pause/resume/delete) and recent signals. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../context";
import { money, percent, price, time } from "../format";
import { keys } from "../server/keys";
import {
  signalKey,
  useAccounts,
  useCatalog,
  useSignals,
  useSubscriptions,
} from "../server/queries";
import type { Strategy, Subscription } from "../types";
import { ErrorBox, NotAvailable, describe, routeMissing } from "../ui/errors";
import { useConfirm } from "../ui/feedback";
import { ALL_TIMEFRAMES, SubscriptionForm } from "./SubscriptionForm";

export default function StrategiesPage() {
  const catalog = useCatalog();
  const [chosen, setChosen] = useState<Strategy | null>(null);
  const strategies = catalog.data?.strategies;
  return (
    <section className="strategies" id="strategies">
      <div className="card">
        <h2>Strategies</h2>
        <div className="catalog">
          {catalog.error ? (
            routeMissing(catalog.error) ? (
              <NotAvailable what="Strategy catalog" />
            ) : (
              <p className="error">{describe(catalog.error).message}</p>
            )
          ) : strategies?.length === 0 ? (
            <p className="muted">No strategies installed.</p>
          ) : (
            strategies?.map((s) => (
              <article key={s.name} className="strategy" data-strategy={s.name}>
                <h3>
                  <code>{s.name}</code>
                </h3>
                <p>{s.description}</p>
                <p className="small muted">
                  {`Timeframes: ${(s.timeframes ?? ALL_TIMEFRAMES).join(", ")}`}
                  {s.warmup ? ` · warm-up ${s.warmup} bars` : ""}
                </p>
                <button type="button" className="small" onClick={() => setChosen(s)}>
                  Subscribe...
                </button>
              </article>
            ))
          )}
        </div>
      </div>
      {chosen ? (
        <div className="card subscribe">
          <SubscriptionForm
            key={chosen.name}
            strategy={chosen}
            sizingSchemas={catalog.data?.sizingSchemas ?? null}
            close={() => setChosen(null)}
          />
        </div>
      ) : null}
      <Subscriptions />
      <Signals />
    </section>
  );
}

function Subscriptions() {
  const { api } = useClients();
  const subscriptions = useSubscriptions();
  const accounts = useAccounts().data;
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const act = useMutation({
    mutationFn: ({ sub, verb }: { sub: Subscription; verb: "pause" | "resume" | "delete" }) =>
      verb === "delete"
        ? api.delete(`/subscriptions/${sub.id}`)
        : api.post(`/subscriptions/${sub.id}/${verb}`, {}),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.subscriptions }),
  });
  const missing = routeMissing(subscriptions.error);
  const columns = ["Strategy", "Symbols", "TF", "Account", "Mode", "Capital", "State", ""];

  return (
    <div className="card">
      <div className="card-head">
        <h2>My subscriptions</h2>
        <span className="spacer" />
        <button type="button" className="secondary" onClick={() => void subscriptions.refetch()}>
          Refresh
        </button>
      </div>
      {missing ? <NotAvailable what="Subscriptions" /> : null}
      <ErrorBox error={(missing ? null : subscriptions.error) ?? act.error} />
      <div className="scroll">
        <table className="grid">
          <thead>
            <tr>
              {columns.map((title, i) => (
                <th key={i}>{title}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {subscriptions.data?.length === 0 ? (
              <tr>
                <td colSpan={columns.length} className="muted">
                  No subscriptions yet: pick a strategy above.
                </td>
              </tr>
            ) : (
              subscriptions.data?.map((sub) => {
                const paused = isPaused(sub);
                const account = accounts?.find((a) => a.id === sub.broker_account_id);
                return (
                  <tr key={sub.id} data-subscription={String(sub.id)}>
                    <td>
                      <code>{sub.strategy}</code>
                    </td>
                    <td>{sub.symbols.join(", ")}</td>
                    <td>{sub.timeframe}</td>
                    <td>{account?.label ?? `#${sub.broker_account_id}`}</td>
                    <td>{sub.mode}</td>
                    <td className="num">{money(sub.capital_allocation)}</td>
                    <td>
                      <span className={`status ${paused ? "status-paused" : "status-open"}`}>
                        {sub.status ?? (paused ? "paused" : "active")}
                      </span>
                    </td>
                    <td className="nowrap">
                      <button
                        type="button"
                        className="small secondary"
                        onClick={() => act.mutate({ sub, verb: paused ? "resume" : "pause" })}
                      >
                        {paused ? "Resume" : "Pause"}
                      </button>{" "}
                      <button
                        type="button"
                        className="small danger"
                        onClick={async () => {
                          const ok = await confirm(
                            `Delete subscription ${sub.id}?`,
                            `${sub.strategy} on ${sub.symbols.join(", ")} stops and is removed.`,
                            "Delete",
                          );
                          if (ok) act.mutate({ sub, verb: "delete" });
                        }}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function Signals() {
  const signals = useSignals();
  const columns = [
    "Time",
    "Strategy",
    "Symbol",
    "TF",
    "Action",
    "Conf.",
    "Price",
    "Stop / target",
    "Reason",
  ];
  const list = signals.data ?? [];
  return (
    <div className="card">
      <h2>Recent signals</h2>
      {routeMissing(signals.error) ? (
        <NotAvailable what="Signal history (live signals still appear)" />
      ) : null}
      <div className="scroll">
        <table className="grid" id="signals">
          <thead>
            <tr>
              {columns.map((title) => (
                <th key={title}>{title}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.length ? (
              list.map((sig) => (
                <tr key={signalKey(sig)}>
                  <td className="small">{time(sig.candle_end ?? sig.ts)}</td>
                  <td>
                    <code>{sig.strategy}</code>
                  </td>
                  <td className="sym">{sig.symbol}</td>
                  <td>{sig.timeframe}</td>
                  <td className={sig.action === "BUY" ? "up" : sig.action === "SELL" ? "down" : ""}>
                    {sig.action}
                  </td>
                  <td className="num">{percent(sig.confidence)}</td>
                  <td className="num">{price(sig.price)}</td>
                  <td className="num small">{`${price(sig.stop)} / ${price(sig.target)}`}</td>
                  <td className="small">{sig.reason ?? ""}</td>
                </tr>
              ))
            ) : (
              <tr>
                <td colSpan={columns.length} className="muted">
                  No signals yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function isPaused(sub: Subscription): boolean {
  return (
    sub.paused === true || sub.is_active === false || (sub.status ?? "").toLowerCase() === "paused"
  );
}
