/**
 * The signed-in session: tokens in memory, mirrored to sessionStorage so a reload
 * keeps the tab signed in (never localStorage: tokens must not outlive the tab).
 *
 * Refresh tokens rotate and a spent one presented again ends the whole session,
 * so refreshes are strictly serialised: every caller shares one in-flight refresh.
 */
import type { TokenPair } from "./types";

const STORAGE_KEY = "algotrade.session";
/** Refresh this long before the access token expires (or at 80% of a short lifetime). */
const MARGIN_MS = 90_000;
const RETRY_MS = 15_000;

interface Stored extends TokenPair {
  /** Browser time the pair arrived; with the token's own lifetime it survives clock skew. */
  received_at: number;
  lifetime_ms: number;
}

export type SessionEvent = "refreshed" | "ended";

export class Session {
  private tokens: Stored | null = null;
  private inflight: Promise<boolean> | null = null;
  private timer: number | undefined;
  private readonly listeners = new Set<(event: SessionEvent, reason?: string) => void>();

  constructor(private readonly base: string) {}

  /** Restore a session of this tab (after a reload); false when there is none. */
  restore(): boolean {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return false;
    try {
      const stored = JSON.parse(raw) as Stored;
      if (!stored.access_token || !stored.refresh_token) return false;
      this.tokens = stored;
      this.schedule();
      return true;
    } catch {
      sessionStorage.removeItem(STORAGE_KEY);
      return false;
    }
  }

  get active(): boolean {
    return this.tokens !== null;
  }

  /** Store a freshly issued pair (login or refresh) and plan the next refresh. */
  set(pair: TokenPair): void {
    const now = Date.now();
    this.tokens = {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: pair.expires_at,
      received_at: now,
      lifetime_ms: tokenLifetime(pair, now),
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
    this.schedule();
  }

  /** The access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | null> {
    if (this.tokens && this.expiresIn() < 5_000) await this.refresh();
    return this.tokens?.access_token ?? null;
  }

  /** The access token as it stands, without refreshing (for sign-out). */
  currentAccessToken(): string | null {
    return this.tokens?.access_token ?? null;
  }

  on(listener: (event: SessionEvent, reason?: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Rotate the pair; concurrent callers share one request. False when the session ended. */
  refresh(): Promise<boolean> {
    if (!this.tokens) return Promise.resolve(false);
    this.inflight ??= this.doRefresh().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** Why the session is about to end, when the user asked for it: the reason any ending
   * gives meanwhile (the server may close the live link before the request answers). */
  private expected: string | null = null;

  /** The user asked to end the session (``reason`` shown then); null: the request failed. */
  expectEnd(reason: string | null): void {
    this.expected = reason;
  }

  /** Forget the tokens; listeners learn why (shown on the sign-in page). */
  end(reason = ""): void {
    reason = this.expected ?? reason;
    this.expected = null;
    const had = this.tokens !== null;
    this.tokens = null;
    window.clearTimeout(this.timer);
    sessionStorage.removeItem(STORAGE_KEY);
    if (had) for (const listener of [...this.listeners]) listener("ended", reason);
  }

  private async doRefresh(): Promise<boolean> {
    const spent = this.tokens?.refresh_token;
    if (!spent) return false;
    let response: Response;
    try {
      response = await fetch(`${this.base}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: spent }),
      });
    } catch {
      // Offline for a moment: keep the pair (it was not spent) and try again soon.
      this.retrySoon();
      return this.expiresIn() > 0;
    }
    if (response.ok) {
      this.set((await response.json()) as TokenPair);
      for (const listener of [...this.listeners]) listener("refreshed");
      return true;
    }
    if (response.status === 401 || response.status === 403 || response.status === 422) {
      const body = (await response.json().catch(() => ({}))) as { message?: string };
      this.end(body.message ?? "your session has ended");
      return false;
    }
    this.retrySoon(); // 429/5xx: the token may or may not be spent; the server decides next time
    return this.expiresIn() > 0;
  }

  private expiresIn(): number {
    if (!this.tokens) return 0;
    return this.tokens.received_at + this.tokens.lifetime_ms - Date.now();
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    if (!this.tokens) return;
    const lifetime = this.tokens.lifetime_ms;
    const margin = Math.min(MARGIN_MS, lifetime * 0.2);
    const due = Math.max(1_000, this.expiresIn() - margin);
    this.timer = window.setTimeout(() => void this.refresh(), due);
  }

  private retrySoon(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), RETRY_MS);
  }
}

/** How long the access token lives, from its own iat/exp (server clock), else expires_at. */
function tokenLifetime(pair: TokenPair, now: number): number {
  const claims = decodeClaims(pair.access_token);
  if (claims && typeof claims.exp === "number" && typeof claims.iat === "number") {
    return Math.max(10_000, (claims.exp - claims.iat) * 1000);
  }
  const byClock = Date.parse(pair.expires_at) - now;
  return Number.isFinite(byClock) && byClock > 10_000 ? byClock : 60_000;
}

function decodeClaims(token: string): { exp?: unknown; iat?: unknown } | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="))) as {
      exp?: unknown;
      iat?: unknown;
    };
  } catch {
    return null;
  }
}
