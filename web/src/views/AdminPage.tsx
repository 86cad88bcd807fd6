/** Admin: the global halt, users (disable/enable) and the audit log. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../context";
import { time } from "../format";
import { keys } from "../server/keys";
import {
  ADMIN_PAGE,
  useAdminUsers,
  useAudit,
  useTradingStatus,
  type UserFilters,
} from "../server/queries";
import type { Page, User } from "../types";
import { ErrorBox, NotAvailable, describe, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";

export function AdminPage() {
  return (
    <section className="admin" id="admin">
      <HaltPanel />
      <UsersPanel />
      <AuditPanel />
    </section>
  );
}

/** Prev/next paging over a `{items, total, limit, offset}` answer. */
function Pager({ page, go }: { page: Page<unknown> | undefined; go: (offset: number) => void }) {
  const offset = page?.offset ?? 0;
  const last = page ? Math.min(page.offset + page.items.length, page.total) : 0;
  return (
    <div className="pager">
      <button
        type="button"
        className="small secondary"
        disabled={!page || offset === 0}
        onClick={() => go(Math.max(0, offset - ADMIN_PAGE))}
      >
        Previous
      </button>
      <span className="muted small">
        {page ? (page.total ? `${page.offset + 1}-${last} of ${page.total}` : "none") : ""}
      </span>
      <button
        type="button"
        className="small secondary"
        disabled={!page || last >= page.total}
        onClick={() => go(offset + ADMIN_PAGE)}
      >
        Next
      </button>
    </div>
  );
}

const NO_FILTERS: UserFilters = { q: "", role: "", active: "" };
const USER_COLUMNS = ["Id", "E-mail", "Name", "Role", "State", "Last sign-in", "Locked", ""];

function UsersPanel() {
  const { api, user: me } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const [draft, setDraft] = useState(NO_FILTERS);
  const [filters, setFilters] = useState(NO_FILTERS);
  const [offset, setOffset] = useState(0);
  const users = useAdminUsers(filters, offset);

  const setActive = useMutation({
    mutationFn: ({ user, enable }: { user: User; enable: boolean }) =>
      api.post(`/admin/users/${user.id}/${enable ? "enable" : "disable"}`, {}),
    onSuccess: (_, { user, enable }) => {
      toast(`${user.email} ${enable ? "enabled" : "disabled"}`);
      void queryClient.invalidateQueries({ queryKey: keys.adminUsers });
    },
  });
  const toggle = async (user: User): Promise<void> => {
    const enable = !user.is_active;
    if (
      !enable &&
      !(await confirm(
        `Disable ${user.email}?`,
        "Their sessions end at once and they cannot sign in until enabled again.",
        "Disable",
      ))
    )
      return;
    setActive.mutate({ user, enable });
  };
  const items = users.data?.items;

  return (
    <div className="card" id="admin-users">
      <div className="card-head">
        <h2>Users</h2>
        <span className="spacer" />
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            setOffset(0);
            setFilters({ ...draft, q: draft.q.trim() });
          }}
        >
          <input
            name="q"
            type="search"
            placeholder="Search e-mail or name"
            value={draft.q}
            onChange={(event) => setDraft({ ...draft, q: event.target.value })}
          />
          <Select
            name="role"
            options={[
              ["", "any role"],
              ["trader", "traders"],
              ["admin", "admins"],
            ]}
            value={draft.role}
            onChange={(event) => setDraft({ ...draft, role: event.target.value })}
          />
          <Select
            name="active"
            options={[
              ["", "any state"],
              ["true", "active"],
              ["false", "disabled"],
            ]}
            value={draft.active}
            onChange={(event) => setDraft({ ...draft, active: event.target.value })}
          />
          <button type="submit">Search</button>
        </form>
      </div>
      <ErrorBox error={users.error ?? setActive.error} />
      <div className="scroll">
        <table className="grid">
          <thead>
            <tr>
              {USER_COLUMNS.map((title, i) => (
                <th key={i}>{title}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={USER_COLUMNS.length} className="muted">
                  No users match.
                </td>
              </tr>
            ) : (
              items?.map((user) => (
                <tr key={user.id} data-user={String(user.id)}>
                  <td className="num">{String(user.id)}</td>
                  <td>{user.email}</td>
                  <td>{user.full_name}</td>
                  <td>{user.role}</td>
                  <td>
                    <span
                      className={`status ${user.is_active ? "status-open" : "status-cancelled"}`}
                    >
                      {user.is_active ? "active" : "disabled"}
                    </span>
                  </td>
                  <td className="small">{time(user.last_login_at)}</td>
                  <td className="small">
                    {user.locked_until ? `until ${time(user.locked_until)}` : ""}
                  </td>
                  <td>
                    {user.id === me.id ? (
                      <span className="muted small">you</span>
                    ) : (
                      <button
                        type="button"
                        className={`small ${user.is_active ? "danger" : "secondary"}`}
                        onClick={() => void toggle(user)}
                      >
                        {user.is_active ? "Disable" : "Enable"}
                      </button>
                    )}
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={users.data} go={setOffset} />
    </div>
  );
}

const AUDIT_COLUMNS = ["Time", "Actor", "Action", "Target", "Address", "Details"];

function AuditPanel() {
  const [draft, setDraft] = useState("");
  const [action, setAction] = useState("");
  const [offset, setOffset] = useState(0);
  const audit = useAudit(action, offset);
  const items = audit.data?.items;
  return (
    <div className="card" id="admin-audit">
      <div className="card-head">
        <h2>Audit log</h2>
        <span className="spacer" />
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            setOffset(0);
            setAction(draft.trim());
          }}
        >
          <input
            name="action"
            placeholder="action, e.g. user.login"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
          />
          <button type="submit">Filter</button>
        </form>
      </div>
      <ErrorBox error={audit.error} />
      <div className="scroll">
        <table className="grid">
          <thead>
            <tr>
              {AUDIT_COLUMNS.map((title) => (
                <th key={title}>{title}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items?.length === 0 ? (
              <tr>
                <td colSpan={AUDIT_COLUMNS.length} className="muted">
                  No entries.
                </td>
              </tr>
            ) : (
              items?.map((entry) => (
                <tr key={entry.id}>
                  <td className="small nowrap">{time(entry.ts)}</td>
                  <td className="num">{entry.actor_id === null ? "-" : String(entry.actor_id)}</td>
                  <td>
                    <code>{entry.action}</code>
                  </td>
                  <td>{[entry.target_type, entry.target_id].filter(Boolean).join(" ")}</td>
                  <td className="small">{entry.ip_address ?? ""}</td>
                  <td className="small details">
                    {Object.keys(entry.details ?? {}).length ? JSON.stringify(entry.details) : ""}
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={audit.data} go={setOffset} />
    </div>
  );
}

function HaltPanel() {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const status = useTradingStatus();
  const [reason, setReason] = useState("");
  const change = useMutation({
    mutationFn: (halt: boolean) =>
      halt
        ? api.post("/admin/trading/halt", { reason: reason.trim() })
        : api.post("/admin/trading/resume", {}),
    onSuccess: (_, halt) => {
      toast(halt ? "Global trading halt in force" : "Global trading resumed");
      void queryClient.invalidateQueries({ queryKey: keys.tradingStatus });
    },
  });

  return (
    <div className="card" id="admin-halt">
      <h2>Global trading</h2>
      <div className="halt-status">
        {status.error ? (
          routeMissing(status.error) ? (
            <NotAvailable what="Trading status" />
          ) : (
            <p className="error">{describe(status.error).message}</p>
          )
        ) : status.data ? (
          <dl className="summary">
            {Object.entries(status.data).flatMap(([key, value]) => [
              <dt key={`${key}-t`}>{key.replace(/_/g, " ")}</dt>,
              <dd key={`${key}-d`}>
                {typeof value === "object" ? JSON.stringify(value) : String(value)}
              </dd>,
            ])}
          </dl>
        ) : null}
      </div>
      <form
        className="inline"
        id="global-halt"
        onSubmit={async (event) => {
          event.preventDefault();
          const ok = await confirm(
            "Halt trading for everyone?",
            "Every user's new orders are refused (only risk-reducing orders pass) until trading is resumed.",
            "Halt everyone",
          );
          if (ok) change.mutate(true);
        }}
      >
        <Field label="Reason">
          <input
            name="reason"
            required
            maxLength={200}
            placeholder="Reason (recorded in the audit log)"
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
        </Field>
        <button type="submit" className="panic" disabled={change.isPending}>
          Halt all trading
        </button>
        <button
          type="button"
          className="secondary"
          disabled={change.isPending}
          onClick={async () => {
            const ok = await confirm(
              "Resume trading for everyone?",
              "Lifts the global halt.",
              "Resume",
              false,
            );
            if (ok) change.mutate(false);
          }}
        >
          Resume all trading
        </button>
      </form>
      <ErrorBox error={change.error} />
    </div>
  );
}
