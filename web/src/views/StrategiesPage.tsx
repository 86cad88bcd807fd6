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
  useMyTradingStatus,
  useSignals,
  useSubscriptions,
} from "../server/queries";
import type { Strategy, Subscription } from "../types";
import { ErrorBox, NotAvailable, describe, routeMissing } from "../ui/errors";
import { useConfirm } from "../ui/feedback";
import { strategyTitle } from "./strategyTitle";
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
                <h3>{strategyTitle(s)}</h3>
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
  const catalog = useCatalog().data?.strategies ?? [];
  // While trading is halted no subscription trades, whatever its own state.
  const halt = useMyTradingStatus().data;
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
  const columns: [string, string][] = [
    ["Strategy", ""],
    ["Symbols", ""],
    ["TF", "p2"],
    ["Account", "p3"],
    ["Mode", "p4"],
    ["Capital", "num p3"],
    ["State", ""],
    ["", ""],
  ];

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
              {columns.map(([title, cls], i) => (
                <th key={i} className={cls || undefined}>
                  {title}
                </th>
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
                const halted = !paused && halt?.halted === true;
                const account = accounts?.find((a) => a.id === sub.broker_account_id);
                const known = catalog.find((c) => c.name === sub.strategy);
                return (
                  <tr key={sub.id} data-subscription={String(sub.id)}>
                    <td title={sub.strategy}>{known ? strategyTitle(known) : sub.strategy}</td>
                    <td className="wrap">{sub.symbols.join(", ")}</td>
                    <td className="p2">{sub.timeframe}</td>
                    <td className="p3">{account?.label ?? `#${sub.broker_account_id}`}</td>
                    <td className="p4">{sub.mode}</td>
                    <td className="num p3">{money(sub.capital_allocation)}</td>
                    <td>
                      <span
                        className={`status ${
                          halted ? "status-halted" : paused ? "status-paused" : "status-open"
                        }`}
                        title={
                          halted
                            ? `Trading is halted: ${halt.halts.map((h) => h.reason).join("; ")}`
                            : undefined
                        }
                      >
                        {halted ? "halted" : (sub.status ?? (paused ? "paused" : "active"))}
                      </span>
                    </td>
                    <td className="end">
                      <div className="row-actions">
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
                              `${known ? strategyTitle(known) : sub.strategy} on ${sub.symbols.join(", ")} stops and is removed.`,
                              "Delete",
                            );
                            if (ok) act.mutate({ sub, verb: "delete" });
                          }}
                        >
                          Delete
                        </button>
                      </div>
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
  const catalog = useCatalog().data?.strategies ?? [];
  const columns: [string, string][] = [
    ["Time", "p3"],
    ["Strategy", "p2"],
    ["Symbol", ""],
    ["TF", "p4"],
    ["Action", ""],
    ["Conf.", "num p3"],
    ["Price", "num"],
    ["Stop / target", "num"],
    ["Reason", "p3"],
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
              {columns.map(([title, cls]) => (
                <th key={title} className={cls || undefined}>
                  {title}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.length ? (
              list.map((sig) => (
                <tr key={signalKey(sig)}>
                  <td className="small nowrap p3">{time(sig.candle_end ?? sig.ts)}</td>
                  <td className="p2" title={sig.strategy}>
                    {strategyTitle(
                      catalog.find((c) => c.name === sig.strategy) ?? { name: sig.strategy },
                    )}
                  </td>
                  <td className="sym">{sig.symbol}</td>
                  <td className="p4">{sig.timeframe}</td>
                  <td className={sig.action === "BUY" ? "up" : sig.action === "SELL" ? "down" : ""}>
                    {sig.action}
                  </td>
                  <td className="num p3">{percent(sig.confidence)}</td>
                  <td className="num">{price(sig.price)}</td>
                  <td className="num small nowrap">
                    <span className="down">{`SL ${price(sig.stop)}`}</span>
                    <br />
                    <span className="up">{`TP ${price(sig.target)}`}</span>
                  </td>
                  <td className="small p3">{sig.reason ?? ""}</td>
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
