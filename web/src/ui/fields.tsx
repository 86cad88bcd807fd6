/** Labelled form fields and drop-downs. */
import type { ReactNode, SelectHTMLAttributes } from "react";

/** A labelled form field; the control keeps its own `name`. */
export function Field({
  label,
  hint,
  children,
}: {
  label: string;
  hint?: string | undefined;
  children: ReactNode;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
      {hint ? <small>{hint}</small> : null}
    </label>
  );
}

export type Option = string | readonly [value: string, text: string];

export function Select({
  options,
  ...props
}: { options: readonly Option[] } & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <select {...props}>
      {options.map((option) => {
        const [value, text] = typeof option === "string" ? [option, option] : option;
        return (
          <option key={value} value={value}>
            {text}
          </option>
        );
      })}
    </select>
  );
}
