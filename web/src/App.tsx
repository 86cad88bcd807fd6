/** The sign-in page or the dashboard, depending on the tab's session. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { ApiError, type Api } from "./api";
import type { Clients } from "./context";
import { DashboardProvider } from "./dashboard";
import { LiveSocket } from "./live";
import { keys } from "./server/keys";
import { useLiveCache } from "./server/liveCache";
import { FrameReplay } from "./server/replay";
import type { Session } from "./session";
import type { User } from "./types";
import { describe } from "./ui/errors";
import { AuthPage } from "./views/AuthPage";
import { Shell } from "./views/Shell";

export function App({ api, session, restored }: { api: Api; session: Session; restored: boolean }) {
  const [signedIn, setSignedIn] = useState(restored);
  const [notice, setNotice] = useState("");
  const queryClient = useQueryClient();

  useEffect(
    () =>
      session.on((event, reason) => {
        if (event !== "ended") return;
        queryClient.clear(); // nothing of this user is shown to the next one
        setNotice(reason ?? "");
        setSignedIn(false);
      }),
    [session, queryClient],
  );
  useEffect(() => {
    document.title = signedIn ? "algotrade" : "algotrade - sign in";
  }, [signedIn]);

  if (!signedIn)
    return (
      <AuthPage
        api={api}
        notice={notice}
        onSignedIn={(tokens) => {
          session.set(tokens);
          setSignedIn(true);
        }}
      />
    );
  return <SignedIn api={api} session={session} />;
}

function SignedIn({ api, session }: { api: Api; session: Session }) {
  const me = useQuery({ queryKey: keys.me, queryFn: () => api.get<User>("/users/me") });
  const error = me.error;
  // The server may be back soon: keep the session. Any other refusal ends it.
  const unreachable = error instanceof ApiError && (error.status === 0 || error.status >= 500);
  useEffect(() => {
    if (error && !unreachable && !me.data && session.active) session.end(describe(error).message);
  }, [error, unreachable, me.data, session]);

  if (me.data) return <Dashboard api={api} session={session} user={me.data} />;
  if (unreachable)
    return (
      <main className="auth">
        <h1 className="brand">algotrade</h1>
        <section className="card">
          <p className="error">{describe(error).message}</p>
          <button type="button" className="primary" onClick={() => void me.refetch()}>
            Retry
          </button>
        </section>
      </main>
    );
  return <p className="boot">Loading...</p>;
}

function Dashboard({ api, session, user }: { api: Api; session: Session; user: User }) {
  const [clients] = useState<Clients>(() => ({
    api,
    session,
    user,
    live: new LiveSocket(session),
    replay: { orders: new FrameReplay(), summary: new FrameReplay(), signals: new FrameReplay() },
  }));
  useEffect(() => {
    clients.live.start();
    return () => clients.live.stop();
  }, [clients]);
  return (
    <DashboardProvider clients={clients}>
      <LiveCache />
      <Shell signOut={() => void signOut(api, session)} />
    </DashboardProvider>
  );
}

function LiveCache() {
  useLiveCache();
  return null;
}

async function signOut(api: Api, session: Session): Promise<void> {
  try {
    await api.post("/auth/logout");
  } catch {
    // the session is forgotten here either way
  }
  session.end("You have signed out.");
}
