/**
 * The live feed over /ws: authenticate, subscribe, reconnect with back-off.
 *
 * Views ask for channels with `on(channel, handler)`; channels are reference counted
 * and subscription changes are batched into one message (the server rate-limits
 * client messages). After a token refresh a new connection is opened with the new
 * token and swapped in once it is subscribed, so no frames are lost in between.
 */
import type { Session } from "./session";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "offline";
type Handler = (data: unknown, channel: string) => void;

const CLOSE_POLICY = 1008; // authentication refused or protocol misuse
const CLOSE_SESSION_ENDED = 4001;
const PING_MS = 25_000;
const MAX_BACKOFF_MS = 30_000;

interface ServerFrame {
  channel?: string;
  data?: unknown;
  op?: string;
  message?: string;
}

/** One WebSocket: authenticated with one token, subscribed to a set of channels. */
class Link {
  readonly ws: WebSocket;
  /** Authenticated: subscription changes may be sent. */
  ready = false;
  /** The first subscription is acknowledged: the link carries every channel asked for. */
  subscribed = false;
  private ping: number | undefined;

  constructor(
    url: string,
    token: string,
    private readonly channels: () => string[],
    private readonly events: {
      ready(link: Link): void;
      frame(frame: ServerFrame, link: Link): void;
      closed(link: Link, code: number, reason: string): void;
    },
  ) {
    this.ws = new WebSocket(url);
    this.ws.onopen = () => this.ws.send(JSON.stringify({ op: "auth", token }));
    this.ws.onmessage = (event) => this.receive(event);
    this.ws.onclose = (event) => {
      window.clearInterval(this.ping);
      this.events.closed(this, event.code, event.reason);
    };
  }

  send(message: object): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  close(): void {
    window.clearInterval(this.ping);
    this.ws.onclose = null;
    this.ws.onmessage = null;
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, "client closed");
  }

  private receive(event: MessageEvent): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(event.data)) as ServerFrame;
    } catch {
      return;
    }
    if (frame.op === "ready") {
      this.ready = true;
      this.ping = window.setInterval(() => this.send({ op: "ping" }), PING_MS);
      const channels = this.channels();
      if (channels.length) this.send({ op: "subscribe", channels });
      else this.markSubscribed();
      return;
    }
    if (frame.op === "error") console.warn("live feed:", frame.message);
    // An error answers the first subscription too: do not wait for it forever.
    if ((frame.op === "ack" || frame.op === "error") && !this.subscribed) this.markSubscribed();
    this.events.frame(frame, this);
  }

  private markSubscribed(): void {
    this.subscribed = true;
    this.events.ready(this);
  }
}

export class LiveSocket {
  private link: Link | null = null;
  private pending: Link | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly toSubscribe = new Set<string>();
  private readonly toUnsubscribe = new Set<string>();
  private flushQueued = false;
  private attempts = 0;
  private retryTimer: number | undefined;
  private stopped = true;
  private everLive = false;
  private statusValue: LiveStatus = "offline";
  private readonly statusListeners = new Set<(status: LiveStatus) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private unlistenSession: (() => void) | null = null;

  constructor(
    private readonly session: Session,
    private readonly url = defaultUrl(),
  ) {}

  get status(): LiveStatus {
    return this.statusValue;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unlistenSession = this.session.on((event) => {
      if (event === "refreshed") void this.reauthenticate();
      else this.stop();
    });
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    this.unlistenSession?.();
    this.unlistenSession = null;
    this.pending?.close();
    this.link?.close();
    this.pending = this.link = null;
    this.setStatus("offline");
  }

  /** Receive the frames of a channel; returns the function that stops receiving them. */
  on(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      this.toUnsubscribe.delete(channel);
      this.toSubscribe.add(channel);
      this.queueFlush();
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(channel);
      if (!current?.delete(handler) || current.size) return;
      this.handlers.delete(channel);
      this.toSubscribe.delete(channel);
      this.toUnsubscribe.add(channel);
      this.queueFlush();
    };
  }

  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.statusValue);
    return () => this.statusListeners.delete(listener);
  }

  /** Called after a reconnect: frames may have been missed, so views re-read over REST. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  private channels(): string[] {
    return [...this.handlers.keys()];
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      for (const link of [this.link, this.pending]) {
        if (!link?.ready) continue;
        if (this.toSubscribe.size) link.send({ op: "subscribe", channels: [...this.toSubscribe] });
        if (this.toUnsubscribe.size)
          link.send({ op: "unsubscribe", channels: [...this.toUnsubscribe] });
      }
      // A link not authenticated yet subscribes to the full set when it is.
      this.toSubscribe.clear();
      this.toUnsubscribe.clear();
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setStatus(this.everLive ? "reconnecting" : "connecting");
    const token = await this.session.accessToken();
    if (this.stopped) return;
    if (!token) {
      this.stop();
      return;
    }
    this.link = this.open(token);
  }

  private async reauthenticate(): Promise<void> {
    if (this.stopped || !this.link?.subscribed || this.pending) return;
    const token = await this.session.accessToken();
    if (!token || this.stopped) return;
    this.pending = this.open(token);
  }

  private open(token: string): Link {
    return new Link(this.url, token, () => this.channels(), {
      ready: (link) => this.linkReady(link),
      frame: (frame, link) => this.dispatch(frame, link),
      closed: (link, code, reason) => this.linkClosed(link, code, reason),
    });
  }

  /** The link's first subscription is acknowledged. */
  private linkReady(link: Link): void {
    if (link === this.pending) {
      // Make before break: the new link carries every channel now, retire the old one.
      this.link?.close();
      this.link = link;
      this.pending = null;
      return;
    }
    this.attempts = 0;
    const resumed = this.everLive;
    this.everLive = true;
    this.setStatus("live");
    if (resumed) for (const listener of [...this.resyncListeners]) listener();
  }

  private dispatch(frame: ServerFrame, link: Link): void {
    if (link !== this.link && link !== this.pending) return;
    if (frame.channel === undefined) return; // acks, pongs; errors concern only our own requests
    const handlers = this.handlers.get(frame.channel);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(frame.data, frame.channel);
      } catch (error) {
        console.error("live handler failed for", frame.channel, error);
      }
    }
  }

  private linkClosed(link: Link, code: number, _reason: string): void {
    if (link === this.pending) {
      this.pending = null; // the old link keeps serving; the next refresh tries again
      return;
    }
    if (link !== this.link || this.stopped) return;
    this.link = null;
    if (code === CLOSE_SESSION_ENDED) {
      this.session.end("your session was ended");
      return;
    }
    if (code === CLOSE_POLICY && !link.ready) {
      // The token was refused (most likely expired while we were away): refresh first.
      void this.session.refresh().then((ok) => {
        if (ok) this.scheduleReconnect();
      });
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setStatus("reconnecting");
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempts);
    this.attempts += 1;
    const delay = base / 2 + Math.random() * (base / 2); // jitter: clients do not reconnect in step
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }

  private setStatus(status: LiveStatus): void {
    if (status === this.statusValue) return;
    this.statusValue = status;
    for (const listener of [...this.statusListeners]) listener(status);
  }
}

function defaultUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}
