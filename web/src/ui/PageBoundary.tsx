/** Keeps a page's render failure (or a page bundle that fails to load) inside the page. */
import { Component, type ReactNode } from "react";
import { describe } from "./errors";

export class PageBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: unknown } {
    return { error };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="card">
        <p className="error">{`This page failed: ${describe(this.state.error).message}`}</p>
        <button type="button" className="primary" onClick={() => location.reload()}>
          Reload
        </button>
      </section>
    );
  }
}
