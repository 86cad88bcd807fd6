/** The panic button: halts the user's own trading (cancel working orders, refuse new ones). */
import { useState } from "react";
import { ApiError, type Api } from "../api";
import { useClients } from "../context";
import { describe } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";

export function HaltControls() {
  const { api } = useClients();
  const confirm = useConfirm();
  const toast = useToast();
  const [halted, setHalted] = useState(false);

  const halt = async (): Promise<void> => {
    const ok = await confirm(
      "Halt all my trading?",
      "New orders will be refused (only risk-reducing orders pass) and strategies stop trading until you resume.",
      "Halt trading",
    );
    if (!ok) return;
    try {
      await haltOwnTrading(api);
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
  };
  const resume = async (): Promise<void> => {
    const ok = await confirm(
      "Resume trading?",
      "Strategies and manual orders will trade again.",
      "Resume",
      false,
    );
    if (!ok) return;
    try {
      await api.post("/trading/resume", {});
      setHalted(false);
      toast("Trading resumed");
    } catch (error) {
      toast(describe(error).message, "error");
    }
  };

  return (
    <span className="halt">
      <button
        type="button"
        className="secondary"
        id="resume-trading"
        hidden={!halted}
        onClick={() => void resume()}
      >
        Resume trading
      </button>
      <button
        type="button"
        className={halted ? "panic halted" : "panic"}
        id="panic"
        onClick={() => void halt()}
      >
        {halted ? "HALTED" : "HALT TRADING"}
      </button>
    </span>
  );
}

/** POST /trading/halt with a reason; a route that takes no reason (422) gets an empty body. */
async function haltOwnTrading(api: Api): Promise<void> {
  try {
    await api.post("/trading/halt", { reason: "panic button (dashboard)" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 422)) throw error;
    await api.post("/trading/halt", {});
  }
}
