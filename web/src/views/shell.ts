/** The signed-in layout: header (account, live status, panic button, sign out) and tabs. */
import { ApiError } from "../api";
import { confirmDialog, describe, h, toast } from "../dom";
import type { LiveStatus } from "../live";
import type { AppContext, View } from "../state";
import { accountsView } from "./accounts";
import { adminView } from "./admin";
import { strategiesView } from "./strategies";
import { tradeView } from "./trade";

interface Tab {
  id: string;
  label: string;
  build: () => View;
  view?: View;
}

const STATUS_TEXT: Record<LiveStatus, string> = {
  connecting: "connecting",
  live: "live",
  reconnecting: "reconnecting",
  offline: "offline",
};

export function shellView(app: AppContext, signOut: () => void): View {
  const tabs: Tab[] = [
    { id: "trade", label: "Trade", build: () => tradeView(app) },
    { id: "strategies", label: "Strategies", build: () => strategiesView(app) },
    { id: "accounts", label: "Broker accounts", build: () => accountsView(app) },
  ];
  if (app.user.role === "admin")
    tabs.push({ id: "admin", label: "Admin", build: () => adminView(app) });

  const nav = h("nav", { class: "tabs", role: "tablist" });
  const content = h("div", { class: "content" });
  const disposers: (() => void)[] = [];

  const show = (id: string): void => {
    const tab = tabs.find((t) => t.id === id) ?? tabs[0]!;
    for (const t of tabs) {
      const active = t === tab;
      nav.querySelector(`[data-tab="${t.id}"]`)?.setAttribute("aria-selected", String(active));
      if (t.view) t.view.el.hidden = !active;
    }
    if (!tab.view) {
      tab.view = tab.build();
      content.appendChild(tab.view.el);
    } else tab.view.shown?.();
  };
  for (const tab of tabs) {
    nav.appendChild(
      h(
        "a",
        { href: `#/${tab.id}`, role: "tab", dataset: { tab: tab.id }, "aria-selected": "false" },
        tab.label,
      ),
    );
  }
  const route = (): void => show(location.hash.replace(/^#\/?/, "") || "trade");
  window.addEventListener("hashchange", route);
  disposers.push(() => window.removeEventListener("hashchange", route));

  const header = h(
    "header",
    { class: "topbar" },
    h("span", { class: "brand" }, "algotrade"),
    accountPicker(app, disposers),
    liveBadge(app, disposers),
    h("span", { class: "spacer" }),
    haltControls(app),
    h(
      "span",
      { class: "who", title: app.user.email },
      app.user.full_name || app.user.email,
      app.user.role === "admin" ? h("em", { text: " admin" }) : null,
    ),
    h(
      "button",
      { type: "button", class: "secondary", id: "sign-out", onclick: signOut },
      "Sign out",
    ),
  );
  const el = h("div", { class: "shell" }, header, nav, content);
  route();
  return {
    el,
    dispose: () => {
      for (const dispose of disposers) dispose();
      for (const tab of tabs) tab.view?.dispose?.();
    },
  };
}

function accountPicker(app: AppContext, disposers: (() => void)[]): HTMLElement {
  const picker = h("select", {
    name: "account",
    id: "account-picker",
    "aria-label": "Broker account",
  });
  picker.addEventListener("change", () =>
    app.accountId.set(picker.value ? Number(picker.value) : null),
  );
  const render = (): void => {
    const accounts = app.accounts.value ?? [];
    picker.replaceChildren(
      ...(accounts.length
        ? accounts.map((a) =>
            h(
              "option",
              { value: String(a.id), selected: a.id === app.accountId.value },
              `${a.label} (${a.broker}, ${a.currency})`,
            ),
          )
        : [
            h(
              "option",
              { value: "" },
              app.accounts.value === null ? "loading accounts..." : "no broker account yet",
            ),
          ]),
    );
  };
  disposers.push(app.accounts.subscribe(render), app.accountId.subscribe(render));
  return h("label", { class: "account-picker" }, h("span", { text: "Account" }), picker);
}

function liveBadge(app: AppContext, disposers: (() => void)[]): HTMLElement {
  const badge = h("span", {
    class: "live-badge",
    id: "live-status",
    title: "WebSocket connection",
  });
  disposers.push(
    app.live.onStatus((status) => {
      badge.textContent = STATUS_TEXT[status];
      badge.dataset.status = status;
    }),
  );
  return badge;
}

/** The panic button: halts the user's own trading (cancel working orders, refuse new ones). */
function haltControls(app: AppContext): HTMLElement {
  const resume = h(
    "button",
    { type: "button", class: "secondary", id: "resume-trading", hidden: true },
    "Resume trading",
  );
  const halt = h("button", { type: "button", class: "panic", id: "panic" }, "HALT TRADING");
  const setHalted = (halted: boolean): void => {
    resume.hidden = !halted;
    halt.textContent = halted ? "HALTED" : "HALT TRADING";
    halt.classList.toggle("halted", halted);
  };
  halt.addEventListener("click", async () => {
    const ok = await confirmDialog(
      "Halt all my trading?",
      "New orders will be refused (only risk-reducing orders pass) and strategies stop trading until you resume.",
      "Halt trading",
    );
    if (!ok) return;
    try {
      await haltOwnTrading(app);
      setHalted(true);
      toast("Trading halted");
    } catch (error) {
      toast(
        error instanceof ApiError && error.routeMissing
          ? "Halt is not available yet"
          : describe(error).message,
        "error",
      );
    }
  });
  resume.addEventListener("click", async () => {
    const ok = await confirmDialog(
      "Resume trading?",
      "Strategies and manual orders will trade again.",
      "Resume",
      false,
    );
    if (!ok) return;
    try {
      await app.api.post("/trading/resume", {});
      setHalted(false);
      toast("Trading resumed");
    } catch (error) {
      toast(describe(error).message, "error");
    }
  });
  return h("span", { class: "halt" }, resume, halt);
}

/** POST /trading/halt with a reason; a route that takes no reason (422) gets an empty body. */
async function haltOwnTrading(app: AppContext): Promise<void> {
  try {
    await app.api.post("/trading/halt", { reason: "panic button (dashboard)" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 422)) throw error;
    await app.api.post("/trading/halt", {});
  }
}
