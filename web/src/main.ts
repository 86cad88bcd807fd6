/** Entry point: sign-in page or the dashboard, depending on the tab's session. */
import "./style.css";
import { API_BASE, Api, ApiError } from "./api";
import { describe, h } from "./dom";
import { LiveSocket } from "./live";
import { Session } from "./session";
import { Store, type AppContext, type View } from "./state";
import type { BrokerAccount, User } from "./types";
import { authView } from "./views/auth";
import { shellView } from "./views/shell";

const ACCOUNT_KEY = "algotrade.account";
const SYMBOL_KEY = "algotrade.symbol";

const root = document.getElementById("app") as HTMLElement;
const session = new Session(API_BASE);
const api = new Api(session);
let mounted: View | null = null;

function unmount(): void {
  mounted?.dispose?.();
  mounted = null;
}

function showSignIn(notice = ""): void {
  unmount();
  document.title = "algotrade - sign in";
  root.replaceChildren(
    authView(
      api,
      (tokens) => {
        session.set(tokens);
        void showDashboard();
      },
      notice,
    ),
  );
}

async function showDashboard(): Promise<void> {
  let user: User;
  try {
    user = await api.get<User>("/users/me");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 0 || error.status >= 500)) {
      showUnreachable(describe(error).message); // keep the session: the server may be back soon
    } else if (session.active) {
      session.end(describe(error).message); // the listener shows the sign-in page
    }
    return;
  }
  unmount();
  const live = new LiveSocket(session);
  const accounts = new Store<BrokerAccount[] | null>(null);
  const accountId = new Store<number | null>(Number(sessionStorage.getItem(ACCOUNT_KEY)) || null);
  const symbol = new Store<string>(localStorage.getItem(SYMBOL_KEY) || "RELIANCE");
  const app: AppContext = {
    api,
    live,
    session,
    user,
    accounts,
    accountId,
    symbol,
    reloadAccounts: async () => {
      try {
        const items = await api.list<BrokerAccount>("/broker-accounts", { limit: 200 });
        accounts.set(items);
        if (!items.some((a) => a.id === accountId.value)) {
          accountId.set((items.find((a) => a.is_active) ?? items[0])?.id ?? null);
        }
      } catch (error) {
        accounts.set(accounts.value ?? []);
        console.warn("broker accounts:", describe(error).message);
      }
    },
  };
  const stops = [
    accountId.subscribe((id) =>
      id === null
        ? sessionStorage.removeItem(ACCOUNT_KEY)
        : sessionStorage.setItem(ACCOUNT_KEY, String(id)),
    ),
    symbol.subscribe((name) => localStorage.setItem(SYMBOL_KEY, name)),
  ];
  live.start();
  const shell = shellView(app, () => void signOut());
  document.title = "algotrade";
  root.replaceChildren(shell.el);
  mounted = {
    el: shell.el,
    dispose: () => {
      stops.forEach((stop) => stop());
      shell.dispose?.();
      live.stop();
    },
  };
  void app.reloadAccounts();
}

function showUnreachable(message: string): void {
  unmount();
  root.replaceChildren(
    h(
      "main",
      { class: "auth" },
      h("h1", { class: "brand" }, "algotrade"),
      h(
        "section",
        { class: "card" },
        h("p", { class: "error" }, message),
        h(
          "button",
          { type: "button", class: "primary", onclick: () => void showDashboard() },
          "Retry",
        ),
      ),
    ),
  );
}

async function signOut(): Promise<void> {
  try {
    await api.post("/auth/logout");
  } catch {
    // the session is forgotten here either way
  }
  session.end("You have signed out.");
}

session.on((event, reason) => {
  if (event === "ended") showSignIn(reason ?? "");
});

if (session.restore()) void showDashboard();
else showSignIn();
