/** Admin: users (disable/enable), the audit log, and the global halt. */
import { ApiError } from "../api";
import { ErrorBox, busy, confirmDialog, field, h, notAvailable, select, toast } from "../dom";
import { time } from "../format";
import type { AppContext, View } from "../state";
import type { AuditEntry, Page, User } from "../types";

const PAGE = 25;

export function adminView(app: AppContext): View {
  const users = usersPanel(app);
  const audit = auditPanel(app);
  const halt = haltPanel(app);
  const el = h("section", { class: "admin", id: "admin" }, halt.el, users.el, audit.el);
  return {
    el,
    shown: () => {
      users.shown?.();
      audit.shown?.();
      halt.shown?.();
    },
  };
}

/** Prev/next paging over a `{items, total, limit, offset}` route. */
function pager(onChange: (offset: number) => void): {
  el: HTMLElement;
  update(page: Page<unknown>): void;
} {
  let offset = 0;
  const info = h("span", { class: "muted small" });
  const prev = h("button", { type: "button", class: "small secondary" }, "Previous");
  const next = h("button", { type: "button", class: "small secondary" }, "Next");
  prev.addEventListener("click", () => onChange((offset = Math.max(0, offset - PAGE))));
  next.addEventListener("click", () => onChange((offset += PAGE)));
  return {
    el: h("div", { class: "pager" }, prev, info, next),
    update(page) {
      offset = page.offset;
      const last = Math.min(page.offset + page.items.length, page.total);
      info.textContent = page.total ? `${page.offset + 1}-${last} of ${page.total}` : "none";
      prev.disabled = page.offset === 0;
      next.disabled = last >= page.total;
    },
  };
}

function usersPanel(app: AppContext): View {
  const body = h("tbody");
  const errors = new ErrorBox();
  const q = h("input", { name: "q", type: "search", placeholder: "Search e-mail or name" });
  const role = select(
    "role",
    [
      ["", "any role"],
      ["trader", "traders"],
      ["admin", "admins"],
    ],
    "",
  );
  const active = select(
    "active",
    [
      ["", "any state"],
      ["true", "active"],
      ["false", "disabled"],
    ],
    "",
  );
  let offset = 0;

  const load = async (): Promise<void> => {
    await busy(null, errors, async () => {
      const page = await app.api.get<Page<User>>("/admin/users", {
        q: q.value.trim(),
        role: role.value,
        active: active.value,
        limit: PAGE,
        offset,
      });
      paging.update(page);
      body.replaceChildren(
        ...(page.items.length
          ? page.items.map(row)
          : [h("tr", null, h("td", { colspan: 8, class: "muted" }, "No users match."))]),
      );
    });
  };
  const paging = pager((next) => {
    offset = next;
    void load();
  });

  const setActive = async (user: User, enable: boolean): Promise<void> => {
    if (
      !enable &&
      !(await confirmDialog(
        `Disable ${user.email}?`,
        "Their sessions end at once and they cannot sign in until enabled again.",
        "Disable",
      ))
    )
      return;
    await busy(null, errors, async () => {
      await app.api.post(`/admin/users/${user.id}/${enable ? "enable" : "disable"}`, {});
      toast(`${user.email} ${enable ? "enabled" : "disabled"}`);
      await load();
    });
  };

  const row = (user: User): HTMLTableRowElement =>
    h(
      "tr",
      { dataset: { user: String(user.id) } },
      h("td", { class: "num" }, String(user.id)),
      h("td", null, user.email),
      h("td", null, user.full_name),
      h("td", null, user.role),
      h(
        "td",
        null,
        h(
          "span",
          { class: `status ${user.is_active ? "status-open" : "status-cancelled"}` },
          user.is_active ? "active" : "disabled",
        ),
      ),
      h("td", { class: "small" }, time(user.last_login_at)),
      h("td", { class: "small" }, user.locked_until ? `until ${time(user.locked_until)}` : ""),
      h(
        "td",
        null,
        user.id === app.user.id
          ? h("span", { class: "muted small" }, "you")
          : h(
              "button",
              {
                type: "button",
                class: `small ${user.is_active ? "danger" : "secondary"}`,
                onclick: () => void setActive(user, !user.is_active),
              },
              user.is_active ? "Disable" : "Enable",
            ),
      ),
    );

  const filters = h(
    "form",
    { class: "inline" },
    q,
    role,
    active,
    h("button", { type: "submit" }, "Search"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    void load();
  });
  void load();
  const el = h(
    "div",
    { class: "card", id: "admin-users" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { text: "Users" }),
      h("span", { class: "spacer" }),
      filters,
    ),
    errors.el,
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
            ...["Id", "E-mail", "Name", "Role", "State", "Last sign-in", "Locked", ""].map((t) =>
              h("th", null, t),
            ),
          ),
        ),
        body,
      ),
    ),
    paging.el,
  );
  return { el, shown: () => void load() };
}

function auditPanel(app: AppContext): View {
  const body = h("tbody");
  const errors = new ErrorBox();
  const action = h("input", { name: "action", placeholder: "action, e.g. user.login" });
  let offset = 0;

  const load = async (): Promise<void> => {
    await busy(null, errors, async () => {
      const page = await app.api.get<Page<AuditEntry>>("/admin/audit", {
        action: action.value.trim(),
        limit: PAGE,
        offset,
      });
      paging.update(page);
      body.replaceChildren(
        ...(page.items.length
          ? page.items.map((entry) =>
              h(
                "tr",
                null,
                h("td", { class: "small nowrap" }, time(entry.ts)),
                h("td", { class: "num" }, entry.actor_id === null ? "-" : String(entry.actor_id)),
                h("td", null, h("code", { text: entry.action })),
                h("td", null, [entry.target_type, entry.target_id].filter(Boolean).join(" ")),
                h("td", { class: "small" }, entry.ip_address ?? ""),
                h(
                  "td",
                  { class: "small details" },
                  Object.keys(entry.details ?? {}).length ? JSON.stringify(entry.details) : "",
                ),
              ),
            )
          : [h("tr", null, h("td", { colspan: 6, class: "muted" }, "No entries."))]),
      );
    });
  };
  const paging = pager((next) => {
    offset = next;
    void load();
  });
  const filters = h("form", { class: "inline" }, action, h("button", { type: "submit" }, "Filter"));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    void load();
  });
  void load();
  const el = h(
    "div",
    { class: "card", id: "admin-audit" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { text: "Audit log" }),
      h("span", { class: "spacer" }),
      filters,
    ),
    errors.el,
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
            ...["Time", "Actor", "Action", "Target", "Address", "Details"].map((t) =>
              h("th", null, t),
            ),
          ),
        ),
        body,
      ),
    ),
    paging.el,
  );
  return { el, shown: () => void load() };
}

function haltPanel(app: AppContext): View {
  const status = h("div", { class: "halt-status" });
  const reason = h("input", {
    name: "reason",
    required: true,
    maxlength: 200,
    placeholder: "Reason (recorded in the audit log)",
  });
  const haltAll = h("button", { type: "submit", class: "panic" }, "Halt all trading");
  const resumeAll = h("button", { type: "button", class: "secondary" }, "Resume all trading");
  const form = h(
    "form",
    { class: "inline", id: "global-halt" },
    field("Reason", reason),
    haltAll,
    resumeAll,
  );
  const errors = new ErrorBox(form);

  const load = async (): Promise<void> => {
    try {
      const state = await app.api.get<Record<string, unknown>>("/admin/trading/status");
      status.replaceChildren(
        h(
          "dl",
          { class: "summary" },
          ...Object.entries(state).flatMap(([key, value]) => [
            h("dt", null, key.replace(/_/g, " ")),
            h("dd", null, typeof value === "object" ? JSON.stringify(value) : String(value)),
          ]),
        ),
      );
    } catch (error) {
      status.replaceChildren(
        error instanceof ApiError && error.routeMissing
          ? notAvailable("Trading status")
          : h("p", { class: "error" }, (error as Error).message),
      );
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      if (
        !(await confirmDialog(
          "Halt trading for everyone?",
          "Every user's new orders are refused (only risk-reducing orders pass) until trading is resumed.",
          "Halt everyone",
        ))
      )
        return;
      await busy(haltAll, errors, async () => {
        await app.api.post("/admin/trading/halt", { reason: reason.value.trim() });
        toast("Global trading halt in force");
        await load();
      });
    })();
  });
  resumeAll.addEventListener("click", async () => {
    if (
      !(await confirmDialog(
        "Resume trading for everyone?",
        "Lifts the global halt.",
        "Resume",
        false,
      ))
    )
      return;
    await busy(resumeAll, errors, async () => {
      await app.api.post("/admin/trading/resume", {});
      toast("Global trading resumed");
      await load();
    });
  });
  void load();
  const el = h(
    "div",
    { class: "card", id: "admin-halt" },
    h("h2", { text: "Global trading" }),
    status,
    form,
    errors.el,
  );
  return { el, shown: () => void load() };
}
