/**
 * Admin: the global halt and the users' halts, users (disable/enable, and per user: halt,
 * resume, role, liquidation, each confirmed; their accounts, orders, positions and audit
 * trail) and the audit log.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../context";
import { time } from "../format";
import { useChannels } from "../liveHooks";
import { keys } from "../server/keys";
import {
  ADMIN_PAGE,
  useAdminUser,
  useAdminUsers,
  useAuditOf,
  useTradingStatus,
  type AuditFilters,
  type UserFilters,
} from "../server/queries";
import type { AuditEntry, Halt, User } from "../types";
import { ErrorBox, NotAvailable, describe, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";
import { Pager } from "../ui/Pager";
import { AdminUserData } from "./AdminUserData";

export default function AdminPage() {
  const [managed, setManaged] = useState<number | null>(null);
  useAdminTradingFeed();
  return (
    <section className="admin" id="admin">
      <HaltPanel manage={setManaged} />
      <UsersPanel manage={setManaged} />
      {managed !== null ? (
        <UserPanel key={managed} id={managed} close={() => setManaged(null)} />
      ) : null}
      <AuditPanel />
    </section>
  );
}

/**
 * Every user's halts, resumes and liquidations, live (`admin:trading`, admins only): the
 * halts, the user's panel and data (a liquidation's orders) and the audit log are read
 * again, so the page follows what another admin or a trader did without a reload.
 */
function useAdminTradingFeed(): void {
  const queryClient = useQueryClient();
  useChannels(["admin:trading"], (data) => {
    const event = data as { user_id?: number | null };
    void queryClient.invalidateQueries({ queryKey: keys.tradingStatus });
    void queryClient.invalidateQueries({ queryKey: ["admin", "audit"] });
    if (typeof event.user_id === "number")
      void queryClient.invalidateQueries({ queryKey: keys.adminUser(event.user_id) });
  });
}

/** Who set a halt: "admin #3", "the user", or "the platform". */
function setBy(halt: Halt): string {
  if (halt.created_by === null) return "the platform";
  return halt.created_by === halt.user_id ? "the user" : `admin #${halt.created_by}`;
}

function HaltPanel({ manage }: { manage: (id: number) => void }) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const status = useTradingStatus();
  const [reason, setReason] = useState("");
  const change = useMutation({
    mutationFn: ({ halt, userId }: { halt: boolean; userId?: number }) =>
      halt
        ? api.post("/admin/trading/halt", { reason: reason.trim() })
        : api.post("/admin/trading/resume", userId === undefined ? {} : { user_id: userId }),
    onSuccess: (_, { halt, userId }) => {
      if (halt) setReason("");
      toast(
        halt
          ? "Global trading halt in force"
          : userId === undefined
            ? "Global trading resumed"
            : `Trading of user #${userId} resumed`,
      );
      void queryClient.invalidateQueries({ queryKey: keys.tradingStatus });
      void queryClient.invalidateQueries({ queryKey: keys.myTradingStatus });
    },
  });
  const global = status.data?.global_halt ?? null;
  const userHalts = status.data?.user_halts ?? [];

  return (
    <div className="card" id="admin-halt">
      <h2>Trading halts</h2>
      <div className="halt-status">
        {status.error ? (
          routeMissing(status.error) ? (
            <NotAvailable what="Trading status" />
          ) : (
            <p className="error">{describe(status.error).message}</p>
          )
        ) : status.data ? (
          <>
            <p id="global-state" data-halted={global ? "true" : "false"}>
              {global ? (
                <>
                  <span className="status status-cancelled">HALTED</span>{" "}
                  {`All trading halted by ${setBy(global)} at ${time(global.created_at)}: ${global.reason}`}
                </>
              ) : (
                <>
                  <span className="status status-filled">RUNNING</span> Trading is running for
                  everyone.
                </>
              )}
            </p>
            <h3>Halted users</h3>
            {userHalts.length ? (
              <div className="scroll">
                <table className="grid" id="user-halts">
                  <thead>
                    <tr>
                      <th>User</th>
                      <th>Reason</th>
                      <th className="p2">Since</th>
                      <th className="p3">By</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {userHalts.map((h) => (
                      <tr key={h.id} data-user={String(h.user_id)}>
                        <td>
                          <button
                            type="button"
                            className="link"
                            onClick={() => h.user_id !== null && manage(h.user_id)}
                          >
                            {`#${h.user_id}`}
                          </button>
                        </td>
                        <td className="wrap">{h.reason || "-"}</td>
                        <td className="small nowrap p2">{time(h.created_at)}</td>
                        <td className="small p3">{setBy(h)}</td>
                        <td className="end">
                          <button
                            type="button"
                            className="small secondary"
                            disabled={change.isPending}
                            onClick={async () => {
                              const ok = await confirm(
                                `Resume trading of user #${h.user_id}?`,
                                "Lifts every halt of this user (their own and administrators').",
                                "Resume",
                                false,
                              );
                              if (ok && h.user_id !== null)
                                change.mutate({ halt: false, userId: h.user_id });
                            }}
                          >
                            Resume
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p className="muted small">No user is halted.</p>
            )}
          </>
        ) : null}
      </div>
      <form
        className="inline"
        id="global-halt"
        onSubmit={async (event) => {
          event.preventDefault();
          const ok = await confirm(
            "Halt trading for everyone?",
            "Every user's working orders are cancelled and new orders refused (only risk-reducing orders pass) until trading is resumed.",
            "Halt everyone",
          );
          if (ok) change.mutate({ halt: true });
        }}
      >
        <Field label="Reason">
          <input
            name="reason"
            required
            maxLength={300}
            placeholder="Recorded in the audit log"
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
          disabled={change.isPending || (status.data !== undefined && !global)}
          onClick={async () => {
            const ok = await confirm(
              "Resume trading for everyone?",
              "Lifts the global halt (users halted one by one stay halted).",
              "Resume",
              false,
            );
            if (ok) change.mutate({ halt: false });
          }}
        >
          Resume all trading
        </button>
      </form>
      <ErrorBox error={change.error} />
    </div>
  );
}

const NO_FILTERS: UserFilters = { q: "", role: "", active: "" };
const USER_COLUMNS: [string, string][] = [
  ["Id", "num p3"],
  ["User", ""],
  ["Role", "p2"],
  ["State", ""],
  ["Last sign-in", "p3"],
  ["Locked", "p4"],
  ["", ""],
];

function UsersPanel({ manage }: { manage: (id: number) => void }) {
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
      void queryClient.invalidateQueries({ queryKey: keys.adminUser(user.id) });
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
            aria-label="Search users"
            value={draft.q}
            onChange={(event) => setDraft({ ...draft, q: event.target.value })}
          />
          <Select
            name="role"
            aria-label="Role"
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
            aria-label="State"
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
              {USER_COLUMNS.map(([title, cls], i) => (
                <th key={i} className={cls || undefined}>
                  {title}
                </th>
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
                  <td className="num p3">{String(user.id)}</td>
                  <td className="wrap">
                    {user.email}
                    {user.full_name ? <div className="small muted">{user.full_name}</div> : null}
                  </td>
                  <td className="p2">{user.role}</td>
                  <td>
                    <span
                      className={`status ${user.is_active ? "status-open" : "status-cancelled"}`}
                    >
                      {user.is_active ? "active" : "disabled"}
                    </span>
                  </td>
                  <td className="small p3">{time(user.last_login_at)}</td>
                  <td className="small p4">
                    {user.locked_until ? `until ${time(user.locked_until)}` : ""}
                  </td>
                  <td className="end">
                    <div className="row-actions">
                      <button
                        type="button"
                        className="small secondary manage"
                        onClick={() => manage(user.id)}
                      >
                        Manage
                      </button>
                      {user.id === me.id ? null : (
                        <button
                          type="button"
                          className={`small ${user.is_active ? "danger" : "secondary"}`}
                          onClick={() => void toggle(user)}
                        >
                          {user.is_active ? "Disable" : "Enable"}
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <Pager page={users.data} size={ADMIN_PAGE} go={setOffset} />
    </div>
  );
}

/** One user: halt or resume their trading, change their role, liquidate, their audit trail. */
function UserPanel({ id, close }: { id: number; close: () => void }) {
  const { api, user: me } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const user = useAdminUser(id);
  const status = useTradingStatus().data;
  const halts = (status?.user_halts ?? []).filter((h) => h.user_id === id);
  const [reason, setReason] = useState("");
  const [role, setRole] = useState<string | null>(null);
  const who = user.data?.email ?? `user #${id}`;

  const act = useMutation({
    mutationFn: (action: "halt" | "resume" | "liquidate" | "role") => {
      if (action === "halt")
        return api.post("/admin/trading/halt", { user_id: id, reason: reason.trim() });
      if (action === "resume") return api.post("/admin/trading/resume", { user_id: id });
      if (action === "liquidate") return api.post("/admin/trading/liquidate", { user_id: id });
      return api.put(`/admin/users/${id}/role`, { role });
    },
    onSuccess: (_, action) => {
      const done = {
        halt: `Trading of ${who} halted`,
        resume: `Trading of ${who} resumed`,
        liquidate: `Liquidation orders sent for ${who}`,
        role: `${who} is now ${role}`,
      }[action];
      toast(done);
      if (action === "halt") setReason("");
      if (action === "role") setRole(null);
      void queryClient.invalidateQueries({ queryKey: ["admin"] });
    },
  });
  const ask = async (
    action: "halt" | "resume" | "liquidate" | "role",
    title: string,
    message: string,
    label: string,
    danger = true,
  ) => {
    if (await confirm(title, message, label, danger)) act.mutate(action);
  };
  const currentRole = role ?? user.data?.role ?? "trader";

  return (
    <div className="card user-panel" id="admin-user" data-user={String(id)}>
      <div className="card-head">
        <h2>{`User #${id}`}</h2>
        <span className="muted wrap">
          {user.data ? `${user.data.email} · ${user.data.role}` : ""}
        </span>
        <span className="spacer" />
        <button type="button" className="small secondary" onClick={close}>
          Close
        </button>
      </div>
      <ErrorBox error={user.error ?? act.error} />
      <p id="user-halt-state">
        {halts.length ? (
          <>
            <span className="status status-cancelled">HALTED</span>{" "}
            {halts
              .map((h) => `${h.reason || "no reason"} (by ${setBy(h)}, ${time(h.created_at)})`)
              .join("; ")}
          </>
        ) : (
          <>
            <span className="status status-filled">TRADING</span> Not halted
            {status?.global_halt ? " (the global halt applies)" : ""}.
          </>
        )}
      </p>
      <div className="user-actions">
        <form
          className="inline"
          id="user-halt"
          onSubmit={(event) => {
            event.preventDefault();
            void ask(
              "halt",
              `Halt trading of ${who}?`,
              "Their working orders are cancelled and new orders refused (only risk-reducing orders pass) until resumed.",
              "Halt user",
            );
          }}
        >
          <Field label="Halt reason">
            <input
              name="reason"
              required
              maxLength={300}
              placeholder="Recorded in the audit log"
              value={reason}
              onChange={(event) => setReason(event.target.value)}
            />
          </Field>
          <button type="submit" className="danger" disabled={act.isPending}>
            Halt user
          </button>
          <button
            type="button"
            className="secondary"
            disabled={act.isPending || !halts.length}
            onClick={() =>
              void ask(
                "resume",
                `Resume trading of ${who}?`,
                "Lifts every halt of this user.",
                "Resume",
                false,
              )
            }
          >
            Resume user
          </button>
        </form>
        <form
          className="inline"
          id="user-role"
          onSubmit={(event) => {
            event.preventDefault();
            void ask(
              "role",
              `Make ${who} ${currentRole === "admin" ? "an admin" : "a trader"}?`,
              currentRole === "admin"
                ? "Admins see every user and can halt, liquidate and change roles."
                : "They lose the admin pages at once.",
              "Change role",
            );
          }}
        >
          <Field label="Role">
            <Select
              name="role"
              options={[
                ["trader", "trader"],
                ["admin", "admin"],
              ]}
              value={currentRole}
              disabled={id === me.id}
              onChange={(event) => setRole(event.target.value)}
            />
          </Field>
          <button
            type="submit"
            className="secondary"
            disabled={act.isPending || id === me.id || currentRole === user.data?.role}
          >
            Change role
          </button>
        </form>
        <div className="inline">
          <button
            type="button"
            className="panic"
            id="liquidate-user"
            disabled={act.isPending}
            onClick={() =>
              void ask(
                "liquidate",
                `Liquidate every position of ${who}?`,
                "Market orders close all their open positions now. This cannot be undone.",
                "Liquidate",
              )
            }
          >
            Liquidate positions
          </button>
        </div>
      </div>
      <h3>Their data</h3>
      <AdminUserData id={id} />
    </div>
  );
}

function AuditPanel() {
  const [draft, setDraft] = useState("");
  const [action, setAction] = useState("");
  return (
    <div className="card" id="admin-audit">
      <div className="card-head">
        <h2>Audit log</h2>
        <span className="spacer" />
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            setAction(draft.trim());
          }}
        >
          <input
            name="action"
            placeholder="action, e.g. user.login"
            aria-label="Action"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
          />
          <button type="submit">Filter</button>
        </form>
      </div>
      <AuditTable key={action} filters={action ? { action } : {}} id="audit-log" />
    </div>
  );
}

const AUDIT_COLUMNS: [string, string][] = [
  ["Time", ""],
  ["Actor", "num p3"],
  ["Action", ""],
  ["Target", "p2"],
  ["Address", "p4"],
  ["Details", "p3"],
];

function AuditTable({
  filters,
  id,
  limit = ADMIN_PAGE,
}: {
  filters: AuditFilters;
  id: string;
  limit?: number;
}) {
  const [offset, setOffset] = useState(0);
  const audit = useAuditOf(filters, offset, limit);
  const items = audit.data?.items;
  return (
    <>
      <ErrorBox error={audit.error} />
      <div className="scroll">
        <table className="grid" id={id}>
          <thead>
            <tr>
              {AUDIT_COLUMNS.map(([title, cls]) => (
                <th key={title} className={cls || undefined}>
                  {title}
                </th>
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
              items?.map((entry) => <AuditRow key={entry.id} entry={entry} />)
            )}
          </tbody>
        </table>
      </div>
      <Pager page={audit.data} size={limit} go={setOffset} />
    </>
  );
}

function AuditRow({ entry }: { entry: AuditEntry }) {
  const details = Object.entries(entry.details ?? {})
    .map(
      ([k, v]) =>
        `${k.replace(/_/g, " ")}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`,
    )
    .join(" · ");
  return (
    <tr data-action={entry.action}>
      <td className="small nowrap">{time(entry.ts)}</td>
      <td className="num p3">{entry.actor_id === null ? "-" : String(entry.actor_id)}</td>
      <td>
        <code>{entry.action}</code>
      </td>
      <td className="p2">{[entry.target_type, entry.target_id].filter(Boolean).join(" ")}</td>
      <td className="small p4">{entry.ip_address ?? ""}</td>
      <td className="small details p3">{details}</td>
    </tr>
  );
}
