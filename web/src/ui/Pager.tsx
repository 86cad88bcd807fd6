/** Prev/next paging over a `{items, total, limit, offset}` answer. */
import type { Page } from "../types";

export function Pager({
  page,
  size,
  go,
}: {
  page: Page<unknown> | undefined;
  size: number;
  go: (offset: number) => void;
}) {
  const offset = page?.offset ?? 0;
  const last = page ? Math.min(page.offset + page.items.length, page.total) : 0;
  return (
    <div className="pager">
      <button
        type="button"
        className="small secondary"
        disabled={!page || offset === 0}
        onClick={() => go(Math.max(0, offset - size))}
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
        onClick={() => go(offset + size)}
      >
        Next
      </button>
    </div>
  );
}
