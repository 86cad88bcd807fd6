/** Sign in (with an optional TOTP code) and sign up. */
import { ApiError, type Api } from "../api";
import { ErrorBox, busy, field, h } from "../dom";
import type { TokenPair } from "../types";

export function authView(
  api: Api,
  onSignedIn: (tokens: TokenPair) => void,
  notice = "",
): HTMLElement {
  const root = h("main", { class: "auth" });
  const card = h("section", { class: "card auth-card" });
  root.append(h("h1", { class: "brand" }, "algotrade"), card);

  const showSignIn = (message = ""): void => {
    card.replaceChildren(signInForm(api, onSignedIn, showSignUp, message));
  };
  const showSignUp = (): void => {
    card.replaceChildren(signUpForm(api, onSignedIn, showSignIn));
  };
  showSignIn(notice);
  return root;
}

function signInForm(
  api: Api,
  onSignedIn: (tokens: TokenPair) => void,
  toSignUp: () => void,
  notice: string,
): HTMLElement {
  const email = h("input", {
    name: "email",
    type: "email",
    required: true,
    autocomplete: "username",
  });
  const password = h("input", {
    name: "password",
    type: "password",
    required: true,
    autocomplete: "current-password",
  });
  const totp = h("input", {
    name: "totp_code",
    inputmode: "numeric",
    pattern: "\\d{6}",
    maxlength: 6,
    autocomplete: "one-time-code",
    placeholder: "6 digits, if two-factor is on",
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { id: "sign-in", novalidate: false },
    h("h2", { text: "Sign in" }),
    notice ? h("p", { class: "notice", text: notice }) : null,
    field("E-mail", email),
    field("Password", password),
    field("Authenticator code", totp, "Only when two-factor authentication is enabled"),
  );
  const errors = new ErrorBox(form);
  form.append(
    errors.el,
    h("div", { class: "actions" }, submit),
    h(
      "p",
      { class: "muted" },
      "No account yet? ",
      h(
        "a",
        { href: "#", id: "to-sign-up", onclick: (e: Event) => (e.preventDefault(), toSignUp()) },
        "Sign up",
      ),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(submit, errors, async () => {
      try {
        const tokens = await login(api, email.value, password.value, totp.value.trim());
        onSignedIn(tokens);
      } catch (error) {
        if (error instanceof ApiError && error.code === "totp_required") totp.focus();
        throw error;
      }
    });
  });
  return form;
}

function signUpForm(
  api: Api,
  onSignedIn: (tokens: TokenPair) => void,
  toSignIn: (message?: string) => void,
): HTMLElement {
  const fullName = h("input", { name: "full_name", autocomplete: "name", maxlength: 200 });
  const email = h("input", {
    name: "email",
    type: "email",
    required: true,
    autocomplete: "username",
  });
  const password = h("input", {
    name: "password",
    type: "password",
    required: true,
    minlength: 10,
    autocomplete: "new-password",
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h(
    "form",
    { id: "sign-up" },
    h("h2", { text: "Create an account" }),
    field("Full name", fullName),
    field("E-mail", email),
    field("Password", password, "At least 10 characters"),
  );
  const errors = new ErrorBox(form);
  form.append(
    errors.el,
    h("div", { class: "actions" }, submit),
    h(
      "p",
      { class: "muted" },
      "Already registered? ",
      h(
        "a",
        { href: "#", id: "to-sign-in", onclick: (e: Event) => (e.preventDefault(), toSignIn()) },
        "Sign in",
      ),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(submit, errors, async () => {
      await api.post(
        "/auth/register",
        {
          email: email.value,
          password: password.value,
          full_name: fullName.value,
        },
        { auth: false },
      );
      try {
        onSignedIn(await login(api, email.value, password.value, ""));
      } catch {
        toSignIn("Account created. Sign in to continue.");
      }
    });
  });
  return form;
}

function login(api: Api, email: string, password: string, totp: string): Promise<TokenPair> {
  const body: Record<string, string> = { email, password };
  if (totp) body.totp_code = totp;
  return api.post<TokenPair>("/auth/login", body, { auth: false });
}
