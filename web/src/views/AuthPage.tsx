/** Sign in (with an optional TOTP code) and sign up. */
import { useMutation } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { ApiError, type Api } from "../api";
import type { TokenPair } from "../types";
import { ErrorBox, invalid } from "../ui/errors";
import { Field } from "../ui/fields";

interface Props {
  api: Api;
  onSignedIn: (tokens: TokenPair) => void;
  notice: string;
}

export function AuthPage({ api, onSignedIn, notice }: Props) {
  const [page, setPage] = useState<{ signUp: boolean; notice: string }>({ signUp: false, notice });
  return (
    <main className="auth">
      <h1 className="brand">algotrade</h1>
      <section className="card auth-card">
        {page.signUp ? (
          <SignUpForm
            api={api}
            onSignedIn={onSignedIn}
            toSignIn={(message = "") => setPage({ signUp: false, notice: message })}
          />
        ) : (
          <SignInForm
            api={api}
            onSignedIn={onSignedIn}
            notice={page.notice}
            toSignUp={() => setPage({ signUp: true, notice: "" })}
          />
        )}
      </section>
    </main>
  );
}

function SignInForm({ api, onSignedIn, notice, toSignUp }: Props & { toSignUp: () => void }) {
  const totp = useRef<HTMLInputElement>(null);
  const signIn = useMutation({
    mutationFn: (form: FormData) =>
      login(api, text(form, "email"), text(form, "password"), text(form, "totp_code").trim()),
    onSuccess: onSignedIn,
    onError: (error) => {
      if (error instanceof ApiError && error.code === "totp_required") totp.current?.focus();
    },
  });
  return (
    <form
      id="sign-in"
      onSubmit={(event) => {
        event.preventDefault();
        signIn.mutate(new FormData(event.currentTarget));
      }}
    >
      <h2>Sign in</h2>
      {notice ? <p className="notice">{notice}</p> : null}
      <Field label="E-mail">
        <input
          name="email"
          type="email"
          required
          autoComplete="username"
          {...invalid(signIn.error, "email")}
        />
      </Field>
      <Field label="Password">
        <input
          name="password"
          type="password"
          required
          autoComplete="current-password"
          {...invalid(signIn.error, "password")}
        />
      </Field>
      <Field
        label="Authenticator code"
        hint="Only when two-factor authentication is on; a recovery code works in its place"
      >
        <input
          ref={totp}
          name="totp_code"
          pattern="\d{6}|[A-Za-z2-7][A-Za-z2-7 \-]{14,30}[A-Za-z2-7]"
          maxLength={32}
          autoComplete="one-time-code"
          placeholder="6 digits, if two-factor is on"
          {...invalid(signIn.error, "totp_code")}
          {...invalid(signIn.error, "recovery_code")}
        />
      </Field>
      <ErrorBox error={signIn.error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={signIn.isPending}>
          Sign in
        </button>
      </div>
      <p className="muted">
        No account yet?{" "}
        <a
          href="#"
          id="to-sign-up"
          onClick={(event) => {
            event.preventDefault();
            toSignUp();
          }}
        >
          Sign up
        </a>
      </p>
    </form>
  );
}

function SignUpForm({
  api,
  onSignedIn,
  toSignIn,
}: Omit<Props, "notice"> & { toSignIn: (message?: string) => void }) {
  const signUp = useMutation({
    mutationFn: async (form: FormData) => {
      const [email, password] = [text(form, "email"), text(form, "password")];
      await api.post(
        "/auth/register",
        { email, password, full_name: text(form, "full_name") },
        { auth: false },
      );
      try {
        onSignedIn(await login(api, email, password, ""));
      } catch {
        toSignIn("Account created. Sign in to continue.");
      }
    },
  });
  return (
    <form
      id="sign-up"
      onSubmit={(event) => {
        event.preventDefault();
        signUp.mutate(new FormData(event.currentTarget));
      }}
    >
      <h2>Create an account</h2>
      <Field label="Full name">
        <input
          name="full_name"
          autoComplete="name"
          maxLength={200}
          {...invalid(signUp.error, "full_name")}
        />
      </Field>
      <Field label="E-mail">
        <input
          name="email"
          type="email"
          required
          autoComplete="username"
          {...invalid(signUp.error, "email")}
        />
      </Field>
      <Field label="Password" hint="At least 10 characters">
        <input
          name="password"
          type="password"
          required
          minLength={10}
          autoComplete="new-password"
          {...invalid(signUp.error, "password")}
        />
      </Field>
      <ErrorBox error={signUp.error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={signUp.isPending}>
          Create account
        </button>
      </div>
      <p className="muted">
        Already registered?{" "}
        <a
          href="#"
          id="to-sign-in"
          onClick={(event) => {
            event.preventDefault();
            toSignIn();
          }}
        >
          Sign in
        </a>
      </p>
    </form>
  );
}

function login(api: Api, email: string, password: string, totp: string): Promise<TokenPair> {
  const body: Record<string, string> = { email, password };
  // Six digits are a TOTP code; anything else given is a recovery code.
  if (/^\d{6}$/.test(totp)) body.totp_code = totp;
  else if (totp) body.recovery_code = totp;
  return api.post<TokenPair>("/auth/login", body, { auth: false });
}

function text(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}
