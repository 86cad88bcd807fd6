/** The header's bell: the unread alert count (GET /alerts/stats, then live from `alerts`). */
import { useAlertStats } from "../server/alerts";

export function AlertBell() {
  const unread = useAlertStats().data?.unread ?? 0;
  const label = unread ? `${unread} unread alert${unread === 1 ? "" : "s"}` : "No unread alert";
  return (
    <a
      className="bell"
      id="alert-bell"
      href="#/alerts"
      title={label}
      aria-label={`Alerts: ${label.toLowerCase()}`}
      data-unread={unread}
    >
      <BellIcon size={18} />
      {unread ? (
        <span className="bell-count" id="alert-count">
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </a>
  );
}

/** A bell drawn inline (no icon font; the same in every browser and theme). */
export function BellIcon({ size }: { size: number }) {
  return (
    <svg viewBox="0 0 24 24" width={size} height={size} aria-hidden="true">
      <path
        fill="currentColor"
        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z"
      />
    </svg>
  );
}
