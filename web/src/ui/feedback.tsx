/** Confirmation dialogs and toasts, offered to every view through one provider. */
import { createContext, useCallback, useContext, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";

type Confirm = (
  title: string,
  message: string,
  confirmLabel: string,
  danger?: boolean,
) => Promise<boolean>;
type Toast = (text: string, kind?: "ok" | "error") => void;

interface Question {
  title: string;
  message: string;
  confirmLabel: string;
  danger: boolean;
  answer: (ok: boolean) => void;
}

interface Flash {
  id: number;
  text: string;
  kind: "ok" | "error";
}

const Feedback = createContext<{ confirm: Confirm; toast: Toast } | null>(null);
const TOAST_MS = 4000;

export function FeedbackProvider({ children }: { children: ReactNode }) {
  const [question, setQuestion] = useState<Question | null>(null);
  const [flashes, setFlashes] = useState<Flash[]>([]);
  const nextId = useRef(0);

  const confirm = useCallback<Confirm>(
    (title, message, confirmLabel, danger = true) =>
      new Promise((answer) => setQuestion({ title, message, confirmLabel, danger, answer })),
    [],
  );
  const toast = useCallback<Toast>((text, kind = "ok") => {
    const id = ++nextId.current;
    setFlashes((all) => [...all, { id, text, kind }]);
    window.setTimeout(() => setFlashes((all) => all.filter((f) => f.id !== id)), TOAST_MS);
  }, []);
  const [value] = useState(() => ({ confirm, toast }));

  return (
    <Feedback.Provider value={value}>
      {children}
      {question ? <ConfirmDialog question={question} done={() => setQuestion(null)} /> : null}
      <div id="toasts" aria-live="polite">
        {flashes.map((f) => (
          <div key={f.id} className={`toast ${f.kind}`}>
            {f.text}
          </div>
        ))}
      </div>
    </Feedback.Provider>
  );
}

/** A modal yes/no question; resolves true on confirm. */
export function useConfirm(): Confirm {
  return useFeedback().confirm;
}

/** A short flash message (placed orders, created accounts). */
export function useToast(): Toast {
  return useFeedback().toast;
}

function useFeedback() {
  const feedback = useContext(Feedback);
  if (!feedback) throw new Error("FeedbackProvider missing");
  return feedback;
}

function ConfirmDialog({ question, done }: { question: Question; done: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      className="confirm"
      onClose={(event) => {
        question.answer(event.currentTarget.returnValue === "ok");
        done();
      }}
    >
      <form method="dialog">
        <h3>{question.title}</h3>
        <p>{question.message}</p>
        <div className="actions">
          <button value="cancel" type="submit" className="secondary">
            Cancel
          </button>
          <button value="ok" type="submit" className={question.danger ? "danger" : "primary"}>
            {question.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
