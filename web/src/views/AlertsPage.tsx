/**
 * Alerts: the history (GET /alerts, filtered by severity, kind and read state; mark one or
 * all read), its statistics (GET /alerts/stats), the notification settings (each channel
 * on or off, the lowest severity and the kinds it gets, its configuration, and "send a
 * test") and the price alerts. The shapes are those of docs/alerts.md, *REST*.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../context";
import { time } from "../format";
import {
  ALERTS_PAGE,
  ALERT_KINDS,
  PRICE_ALERTS_PAGE,
  SEVERITIES,
  kindLabel,
  useAlertStats,
  useAlerts,
  usePriceAlerts,
  type Alert,
  type AlertFilters,
} from "../server/alerts";
import { keys } from "../server/keys";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";
import { useConfirm } from "../ui/feedback";
import { Field, Select } from "../ui/fields";
import { Pager } from "../ui/Pager";
import { NotificationChannels } from "./NotificationChannels";
import { PriceAlertForm, describeCondition } from "./PriceAlertForm";

export default function AlertsPage() {
  return (
    <section className="alerts-page" id="alerts">
      <div className="alerts-grid">
        <History />
        <Statistics />
      </div>
      <NotificationChannels />
      <PriceAlerts />
    </section>
  );
}

export function SeverityChip({ severity }: { severity: string }) {
  return (
    <span className={`status severity sev-${severity.toLowerCase()}`} data-severity={severity}>
      {severity}
    </span>
  );
}

function History() {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const [filters, setFilters] = useState<AlertFilters>({ severity: "", kind: "", read: "" });
  const [offset, setOffset] = useState(0);
  const alerts = useAlerts(filters, offset);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: keys.alerts });
  const markOne = useMutation({
    mutationFn: (id: string) => api.post<Alert>(`/alerts/${id}/read`),
    onSuccess: refresh,
  });
  const markAll = useMutation({
    mutationFn: () => api.post<{ marked: number }>("/alerts/read-all"),
    onSuccess: refresh,
  });
  const set = (change: Partial<AlertFilters>) => {
    setFilters((held) => ({ ...held, ...change }));
    setOffset(0);
  };
  if (routeMissing(alerts.error)) return <NotAvailable what="Alerts" />;
  const items = alerts.data?.items;
  return (
    <div className="card" id="alert-history">
      <div className="card-head wrap-head">
        <h2>Alerts</h2>
        <span className="spacer" />
        <button
          type="button"
          className="small"
          id="mark-all-read"
          disabled={markAll.isPending}
          onClick={() => markAll.mutate()}
        >
          Mark all read
        </button>
      </div>
      <form className="inline filters" id="alert-filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Severity">
          <Select
            name="severity"
            options={[["", "any"], ...SEVERITIES.map((s): [string, string] => [s, s])]}
            value={filters.severity}
            onChange={(event) => set({ severity: event.target.value })}
          />
        </Field>
        <Field label="Kind">
          <Select
            name="kind"
            options={[["", "any"], ...ALERT_KINDS]}
            value={filters.kind}
            onChange={(event) => set({ kind: event.target.value })}
          />
        </Field>
        <Field label="Show">
          <Select
            name="read"
            options={[
              ["", "all"],
              ["false", "unread"],
              ["true", "read"],
            ]}
            value={filters.read}
            onChange={(event) => set({ read: event.target.value })}
          />
        </Field>
      </form>
      <ErrorBox error={alerts.error ?? markOne.error ?? markAll.error} />
      <div className="scroll">
        <table className="grid" id="alert-list">
          <thead>
            <tr>
              <th className="p3">Time</th>
              <th>Severity</th>
              <th>Alert</th>
              <th className="p4">Delivery</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={5} className="muted">
                  No alert here.
                </td>
              </tr>
            ) : (
              items?.map((a) => (
                <tr
                  key={a.id}
                  data-alert={a.id}
                  data-kind={a.kind}
                  data-read={a.read ? "true" : "false"}
                  className={a.read ? "read" : "unread"}
                >
                  <td className="small nowrap p3">{time(a.created_at)}</td>
                  <td>
                    <SeverityChip severity={a.severity} />
                  </td>
                  <td className="wrap">
                    <strong className="alert-title">{a.title}</strong>
                    <span className="muted small">{` · ${kindLabel(a.kind)}`}</span>
                    {a.body ? <div className="small">{a.body}</div> : null}
                  </td>
                  <td className="small p4 wrap">
                    {a.deliveries.length
                      ? a.deliveries.map((d) => (
                          <div key={d.channel_id} title={d.last_error ?? ""}>
                            {`${d.channel_name}: ${d.status}`}
                            {d.status === "failed" && d.last_error ? ` (${d.last_error})` : ""}
                          </div>
                        ))
                      : "live feed"}
                  </td>
                  <td className="end">
                    {a.read ? null : (
                      <button
                        type="button"
                        className="small mark-read"
                        disabled={markOne.isPending}
                        onClick={() => markOne.mutate(a.id)}
                      >
                        Read
                      </button>
                    )}
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={alerts.data} size={ALERTS_PAGE} go={setOffset} />
    </div>
  );
}

function Statistics() {
  const stats = useAlertStats();
  const s = stats.data;
  if (routeMissing(stats.error)) return null;
  return (
    <div className="card" id="alert-stats">
      <h2>Statistics</h2>
      <ErrorBox error={stats.error} />
      {s ? (
        <>
          <dl className="summary">
            <div className="figure">
              <dt>Total</dt>
              <dd id="alerts-total">{s.total}</dd>
            </div>
            <div className="figure">
              <dt>Unread</dt>
              <dd id="alerts-unread">{s.unread}</dd>
            </div>
          </dl>
          <h3>By severity</h3>
          <table className="grid compact" id="stats-by-severity">
            <thead>
              <tr>
                <th>Severity</th>
                <th className="num">All</th>
                <th className="num">Unread</th>
              </tr>
            </thead>
            <tbody>
              {SEVERITIES.map((sev) => (
                <tr key={sev} data-severity={sev}>
                  <td>
                    <SeverityChip severity={sev} />
                  </td>
                  <td className="num">{s.by_severity[sev] ?? 0}</td>
                  <td className="num">{s.unread_by_severity[sev] ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>By kind</h3>
          {Object.keys(s.by_kind).length ? (
            <table className="grid compact" id="stats-by-kind">
              <tbody>
                {Object.entries(s.by_kind)
                  .sort((a, b) => b[1] - a[1])
                  .map(([kind, n]) => (
                    <tr key={kind} data-kind={kind}>
                      <td>{kindLabel(kind)}</td>
                      <td className="num">{n}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          ) : (
            <p className="muted small">No alert yet.</p>
          )}
        </>
      ) : (
        <p className="muted">Loading...</p>
      )}
    </div>
  );
}

function PriceAlerts() {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const [offset, setOffset] = useState(0);
  const [formKey, setFormKey] = useState(0);
  const alerts = usePriceAlerts(offset);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: keys.priceAlerts });
  const change = useMutation({
    mutationFn: ({ id, active }: { id: number; active: boolean | null }) =>
      active === null
        ? api.delete(`/price-alerts/${id}`)
        : api.patch(`/price-alerts/${id}`, { active }),
    onSuccess: refresh,
  });
  if (routeMissing(alerts.error)) return <NotAvailable what="Price alerts" />;
  const items = alerts.data?.items;
  return (
    <div className="card" id="price-alerts">
      <h2>Price alerts</h2>
      <p className="muted small">
        Also set from the watchlist and the chart (the bell beside a symbol).
      </p>
      <ErrorBox error={alerts.error ?? change.error} />
      <div className="scroll">
        <table className="grid" id="price-alert-list">
          <thead>
            <tr>
              <th>When</th>
              <th className="p3">Repeat</th>
              <th className="num p2">Triggered</th>
              <th className="p4">Note</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No price alert yet.
                </td>
              </tr>
            ) : (
              items?.map((a) => (
                <tr key={a.id} data-price-alert={a.id} data-symbol={a.symbol}>
                  <td className="wrap condition">{describeCondition(a)}</td>
                  <td className="p3">{a.repeat === "repeating" ? "every time" : "once"}</td>
                  <td
                    className="num p2"
                    title={a.last_triggered_at ? time(a.last_triggered_at) : ""}
                  >
                    {a.trigger_count}
                  </td>
                  <td className="p4 wrap small">{a.note || "-"}</td>
                  <td>
                    <label className="choice small">
                      <input
                        type="checkbox"
                        name="active"
                        checked={a.active}
                        disabled={change.isPending}
                        onChange={(event) =>
                          change.mutate({ id: a.id, active: event.target.checked })
                        }
                      />
                      {a.active ? "armed" : "off"}
                    </label>
                  </td>
                  <td className="end">
                    <button
                      type="button"
                      className="small icon"
                      title="Delete this price alert"
                      aria-label={`Delete price alert ${a.id}`}
                      onClick={() =>
                        void confirm(
                          "Delete this price alert?",
                          describeCondition(a),
                          "Delete",
                        ).then((ok) => ok && change.mutate({ id: a.id, active: null }))
                      }
                    >
                      ✕
                    </button>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={alerts.data} size={PRICE_ALERTS_PAGE} go={setOffset} />
      <h3>New price alert</h3>
      <PriceAlertForm
        key={formKey}
        symbol=""
        id="price-alert-new"
        done={() => setFormKey((k) => k + 1)}
      />
    </div>
  );
}
