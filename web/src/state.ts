/** What the views share: the clients, the signed-in user and a few observable values. */
import type { Api } from "./api";
import type { LiveSocket } from "./live";
import type { Session } from "./session";
import type { BrokerAccount, User } from "./types";

/** A value that tells its listeners when it changes. */
export class Store<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private current: T) {}

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    this.current = value;
    for (const listener of [...this.listeners]) listener(value);
  }

  /** Listen, starting with the current value; returns the function that stops listening. */
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }
}

export interface AppContext {
  api: Api;
  live: LiveSocket;
  session: Session;
  user: User;
  /** The user's broker accounts; null until loaded. */
  accounts: Store<BrokerAccount[] | null>;
  /** The broker account the ticket, positions and summary work with. */
  accountId: Store<number | null>;
  /** The symbol selected in the watchlist (chart and order ticket follow it). */
  symbol: Store<string>;
  /** Re-read the broker accounts (after one is created or removed). */
  reloadAccounts(): Promise<void>;
}

/** A view: its root element, a hook run when its tab is shown, and clean-up. */
export interface View {
  el: HTMLElement;
  shown?(): void;
  dispose?(): void;
}
