/**
 * The panic button and the halted state. The state is read from GET /trading/status on load
 * and again whenever the `trading` channel announces a halt, resume or liquidation of the
 * user or of everyone (after a reconnect, and every minute as a fallback), so a halt
 * survives a reload and a trader sees an administrator's or the global halt at once; only
 * a halt of one's own can be lifted here.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ApiError, type Api } from "../api";
import { useClients } from "../context";
import { time } from "../format";
import { keys } from "../server/keys";
import { useMyTradingStatus } from "../server/queries";
import type { Halt, TradingStatus, User } from "../types";
import { describe } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";

/** Who stopped the trading, in words. */
export function haltText(halt: Halt, me: User): string {
  const who =
    halt.user_id === null
      ? "All trading is halted by an administrator"
      : halt.created_by === me.id
        ? "You halted your trading"
        : "An administrator halted your trading";
  return `${who} (${time(halt.created_at)})${halt.reason ? `: ${halt.reason}` : ""}`;
}

/** True when every halt in force is the user's own (they may lift it themself). */
function ownOnly(halts: Halt[], me: User): boolean {
  return halts.every((h) => h.user_id === me.id && h.created_by === me.id);
}

export function HaltControls() {
  const { api, user } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const status = useMyTradingStatus();
  const halted = status.data?.halted ?? false;
  const halts = status.data?.halts ?? [];

  const change = useMutation({
    mutationFn: (halt: boolean) =>
      halt ? haltOwnTrading(api) : api.post<TradingStatus>("/trading/resume", {}),
    onSuccess: (answer, halt) => {
      if (answer && typeof answer === "object" && "halted" in answer)
        queryClient.setQueryData(keys.myTradingStatus, answer);
      else void queryClient.invalidateQueries({ queryKey: keys.myTradingStatus });
      void queryClient.invalidateQueries({ queryKey: keys.orders }); // the halt cancels them
      toast(halt ? "Trading halted" : "Trading resumed");
    },
    onError: (error) =>
      toast(
        error instanceof ApiError && error.routeMissing
          ? "Halt is not available yet"
          : describe(error).message,
        "error",
      ),
  });

  const halt = async (): Promise<void> => {
    const ok = await confirm(
      "Halt all my trading?",
      "Working orders are cancelled, new orders are refused (only risk-reducing orders pass) and strategies stop trading until you resume.",
      "Halt trading",
    );
    if (ok) change.mutate(true);
  };
  const resume = async (): Promise<void> => {
    const ok = await confirm(
      "Resume trading?",
      "Strategies and manual orders will trade again.",
      "Resume",
      false,
    );
    if (ok) change.mutate(false);
  };

  return (
    <span className="halt" data-halted={halted ? "true" : "false"}>
      <button
        type="button"
        className="secondary"
        id="resume-trading"
        hidden={!halted || !ownOnly(halts, user)}
        disabled={change.isPending}
        onClick={() => void resume()}
      >
        Resume trading
      </button>
      <button
        type="button"
        className={halted ? "panic halted" : "panic"}
        id="panic"
        title={halted ? halts.map((h) => haltText(h, user)).join("\n") : "Stop all my trading now"}
        disabled={change.isPending}
        onClick={() => void halt()}
      >
        {halted ? "HALTED" : "HALT TRADING"}
      </button>
    </span>
  );
}

/** A line under the header for as long as trading is halted: who halted it, when and why. */
export function HaltBanner() {
  const { user } = useClients();
  const status = useMyTradingStatus().data;
  if (!status?.halted) return null;
  return (
    <div className="halt-banner" id="halt-banner" role="status">
      {status.halts.map((h) => (
        <p
          key={h.id}
          data-halt={h.user_id === null ? "global" : h.created_by === user.id ? "self" : "admin"}
        >
          {haltText(h, user)}
        </p>
      ))}
      {ownOnly(status.halts, user) ? null : (
        <p className="small">Only an administrator can lift this halt.</p>
      )}
    </div>
  );
}

/** POST /trading/halt with a reason; a route that takes no reason (422) gets an empty body. */
async function haltOwnTrading(api: Api): Promise<TradingStatus | undefined> {
  try {
    return await api.post<TradingStatus>("/trading/halt", { reason: "panic button (dashboard)" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 422)) throw error;
    return await api.post<TradingStatus>("/trading/halt", {});
  }
}
