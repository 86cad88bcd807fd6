/**
 * An admin's read-only view of one user's data: broker accounts, orders, positions and the
 * audit trail (GET /admin/users/{id}/...), one tab at a time, paged, scrolling in the card.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { useClients } from "../context";
import { money, pnlClass, price, qty, time } from "../format";
import { keys } from "../server/keys";
import type { AuditEntry, BrokerAccount, Order, Page, Position } from "../types";
import { ErrorBox, NotAvailable, routeMissing } from "../ui/errors";
import { Pager } from "../ui/Pager";

const PAGE = 10;

type What = "broker-accounts" | "orders" | "positions" | "audit";

/** Attributes of a row (tests and styles find rows by them). */
type RowAttrs<T> = (row: T) => Record<string, string | undefined>;

interface Column<T> {
  title: string;
  cls?: string;
  cell: (row: T) => ReactNode;
}

const ACCOUNT_COLUMNS: Column<BrokerAccount>[] = [
  { title: "Id", cls: "num p3", cell: (a) => String(a.id) },
  { title: "Label", cell: (a) => a.label },
  { title: "Broker", cls: "p2", cell: (a) => `${a.broker} · ${a.currency}` },
  { title: "Capital", cls: "num p3", cell: (a) => money(a.starting_capital) },
  {
    title: "State",
    cell: (a) => <span className="status">{a.is_active ? "ACTIVE" : "OFF"}</span>,
  },
];

const ORDER_COLUMNS: Column<Order>[] = [
  { title: "Time", cls: "small nowrap p2", cell: (o) => time(o.created_at) },
  { title: "Symbol", cell: (o) => o.symbol },
  {
    title: "Side",
    cell: (o) => <span className={o.side === "BUY" ? "up" : "down"}>{o.side}</span>,
  },
  {
    title: "Qty",
    cls: "num",
    cell: (o) => `${qty(o.filled_quantity ?? "0")}/${qty(o.quantity)}`,
  },
  {
    title: "Price",
    cls: "num p2",
    cell: (o) => price(o.average_price ?? o.limit_price ?? o.trigger_price),
  },
  { title: "Origin", cls: "p3", cell: (o) => o.origin ?? "" },
  {
    title: "Status",
    cell: (o) => (
      <span className={`status status-${o.status.toLowerCase()}`} title={o.reason ?? ""}>
        {o.status}
      </span>
    ),
  },
];

const POSITION_COLUMNS: Column<Position>[] = [
  { title: "Symbol", cell: (p) => p.symbol },
  { title: "Account", cls: "num p3", cell: (p) => String(p.broker_account_id ?? "") },
  { title: "Qty", cls: "num", cell: (p) => qty(p.quantity) },
  { title: "Avg", cls: "num p2", cell: (p) => price(p.average_price) },
  { title: "LTP", cls: "num p2", cell: (p) => price(p.last_price) },
  {
    title: "Unrealised",
    cls: "num",
    cell: (p) => <span className={pnlClass(p.unrealised_pnl)}>{money(p.unrealised_pnl)}</span>,
  },
  {
    title: "Realised",
    cls: "num p2",
    cell: (p) => <span className={pnlClass(p.realised_pnl)}>{money(p.realised_pnl)}</span>,
  },
];

const AUDIT_COLUMNS: Column<AuditEntry>[] = [
  { title: "Time", cls: "small nowrap", cell: (e) => time(e.ts) },
  { title: "Actor", cls: "num p3", cell: (e) => (e.actor_id === null ? "-" : String(e.actor_id)) },
  { title: "Action", cell: (e) => <code>{e.action}</code> },
  {
    title: "Target",
    cls: "p2",
    cell: (e) => [e.target_type, e.target_id].filter(Boolean).join(" "),
  },
  {
    title: "Details",
    cls: "small details p3",
    cell: (e) =>
      Object.entries(e.details ?? {})
        .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
        .join(" · "),
  },
];

const TABS: [What, string][] = [
  ["broker-accounts", "Accounts"],
  ["orders", "Orders"],
  ["positions", "Positions"],
  ["audit", "Audit"],
];

export function AdminUserData({ id }: { id: number }) {
  const [what, setWhat] = useState<What>("orders");
  return (
    <div className="admin-user-data" id="admin-user-data" data-view={what}>
      <div className="subtabs" role="tablist" aria-label="The user's data">
        {TABS.map(([key, label]) => (
          <button
            key={key}
            type="button"
            role="tab"
            data-view={key}
            aria-selected={key === what}
            className={key === what ? "small primary" : "small secondary"}
            onClick={() => setWhat(key)}
          >
            {label}
          </button>
        ))}
      </div>
      {what === "broker-accounts" ? (
        <DataTable key={what} id={id} what={what} columns={ACCOUNT_COLUMNS} empty="No accounts." />
      ) : what === "orders" ? (
        <DataTable
          key={what}
          id={id}
          what={what}
          columns={ORDER_COLUMNS}
          empty="No orders."
          attrs={(o) => ({ "data-status": o.status })}
        />
      ) : what === "positions" ? (
        <DataTable
          key={what}
          id={id}
          what={what}
          columns={POSITION_COLUMNS}
          empty="No open positions."
        />
      ) : (
        <DataTable
          key={what}
          id={id}
          what={what}
          columns={AUDIT_COLUMNS}
          empty="No entries."
          attrs={(e) => ({ "data-action": e.action })}
        />
      )}
    </div>
  );
}

function DataTable<T extends { id?: number }>({
  id,
  what,
  columns,
  empty,
  attrs,
}: {
  id: number;
  what: What;
  columns: Column<T>[];
  empty: string;
  attrs?: RowAttrs<T>;
}) {
  const { api } = useClients();
  const [offset, setOffset] = useState(0);
  const data = useQuery({
    queryKey: keys.adminUserData(id, what, offset),
    queryFn: () => api.get<Page<T>>(`/admin/users/${id}/${what}`, { limit: PAGE, offset }),
    placeholderData: keepPreviousData,
  });
  if (routeMissing(data.error)) return <NotAvailable what="This view" />;
  const items = data.data?.items;
  return (
    <>
      <ErrorBox error={data.error} />
      <div className="scroll">
        <table className="grid" id={`user-${what}`}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.title} className={c.cls}>
                  {c.title}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={columns.length} className="muted">
                  {empty}
                </td>
              </tr>
            ) : (
              items?.map((row, index) => (
                <tr key={row.id ?? index} {...attrs?.(row)}>
                  {columns.map((c) => (
                    <td key={c.title} className={c.cls}>
                      {c.cell(row)}
                    </td>
                  ))}
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={data.data} size={PAGE} go={setOffset} />
    </>
  );
}
