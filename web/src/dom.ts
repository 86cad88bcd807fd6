/** Small DOM helpers: element builder, error display, confirm dialog. */
import { ApiError } from "./api";

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown>;

/**
 * Build an element. Props: `class`, `text`, `on<Event>` listeners, `dataset`,
 * `value`/`checked`/`disabled`/`selected` as properties, anything else as an attribute
 * (`false`/`null`/`undefined` leave it out).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value as Record<string, string>);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") {
      (el as unknown as Record<string, unknown>)[key] = value;
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A labelled form field; the control keeps its own `name`. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h(
    "label",
    { class: "field" },
    h("span", { text: label }),
    control,
    hint ? h("small", { text: hint }) : null,
  );
}

export function select(
  name: string,
  options: (string | [string, string])[],
  value?: string,
): HTMLSelectElement {
  return h(
    "select",
    { name },
    ...options.map((option) => {
      const [val, text] = Array.isArray(option) ? option : [option, option];
      return h("option", { value: val, selected: val === value }, text);
    }),
  );
}

/** A place next to a form where the API's error message and field details appear. */
export class ErrorBox {
  readonly el = h("div", { class: "error", role: "alert", hidden: true });

  constructor(private readonly form?: HTMLElement) {}

  show(error: unknown): void {
    this.clear();
    const { message, details } = describe(error);
    const items = details.map((d) =>
      h("li", null, d.field ? h("code", { text: d.field }) : null, d.field ? ": " : "", d.message),
    );
    fill(this.el, h("p", { text: message }), items.length ? h("ul", null, ...items) : null);
    this.el.hidden = false;
    for (const detail of details) this.markField(detail.field, detail.message);
  }

  clear(): void {
    this.el.hidden = true;
    this.el.replaceChildren();
    this.form?.querySelectorAll(".invalid").forEach((el) => {
      el.classList.remove("invalid");
      el.removeAttribute("aria-invalid");
    });
  }

  private markField(name: string | null | undefined, message: string): void {
    if (!name || !this.form) return;
    const control = this.form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (control) {
      control.classList.add("invalid");
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("title", message);
    }
  }
}

export function describe(error: unknown): {
  message: string;
  details: { field?: string | null; message: string }[];
} {
  if (error instanceof ApiError) return { message: error.message, details: error.details };
  if (error instanceof Error) return { message: error.message, details: [] };
  return { message: String(error), details: [] };
}

/** A notice shown in a panel whose API route is not deployed yet. */
export function notAvailable(what: string): HTMLElement {
  return h("p", { class: "muted notice" }, `${what}: not available yet.`);
}

/** A modal yes/no question; resolves true on confirm. */
export function confirmDialog(
  title: string,
  message: string,
  confirmLabel: string,
  danger = true,
): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm" },
      h(
        "form",
        { method: "dialog" },
        h("h3", { text: title }),
        h("p", { text: message }),
        h(
          "div",
          { class: "actions" },
          h("button", { value: "cancel", type: "submit", class: "secondary" }, "Cancel"),
          h(
            "button",
            { value: "ok", type: "submit", class: danger ? "danger" : "primary" },
            confirmLabel,
          ),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/** Run an async action with the button disabled and errors sent to an ErrorBox. */
export async function busy<T>(
  button: HTMLButtonElement | null,
  errors: ErrorBox | null,
  action: () => Promise<T>,
): Promise<T | undefined> {
  if (button) button.disabled = true;
  errors?.clear();
  try {
    return await action();
  } catch (error) {
    if (errors) errors.show(error);
    else console.warn(describe(error).message);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A short flash message (placed orders, created accounts). */
export function toast(text: string, kind: "ok" | "error" = "ok"): void {
  let host = document.getElementById("toasts");
  if (!host) {
    host = h("div", { id: "toasts", "aria-live": "polite" });
    document.body.appendChild(host);
  }
  const item = h("div", { class: `toast ${kind}`, text });
  host.appendChild(item);
  window.setTimeout(() => item.remove(), 4000);
}
