/**
 * The user's own page: appearance (theme, density, trade screen panels), password,
 * two-factor authentication (enrolment with a QR code, recovery codes) and login sessions
 * (sign out everywhere).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { generate } from "lean-qr";
import { toSvgDataURL } from "lean-qr/extras/svg";
import { useMemo, useState } from "react";
import { useClients } from "../context";
import { time } from "../format";
import { keys } from "../server/keys";
import { DEFAULT_PREFERENCES, usePreferences, useUpdatePreferences } from "../server/preferences";
import { PANELS, useLayout } from "../layout";
import type { Density, Layout, Theme, TotpSetup, User } from "../types";
import { ErrorBox, NotAvailable, invalid, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field } from "../ui/fields";

interface LoginSession {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  ip_address: string | null;
  user_agent: string | null;
  current: boolean;
}

export default function ProfilePage() {
  const { api, user } = useClients();
  const me =
    useQuery({ queryKey: keys.me, queryFn: () => api.get<User>("/users/me") }).data ?? user;
  return (
    <section className="profile two-col" id="profile">
      <div>
        <div className="card">
          <h2>Profile</h2>
          <dl className="summary">
            <dt>Name</dt>
            <dd>{me.full_name || "-"}</dd>
            <dt>E-mail</dt>
            <dd className="wrap">{me.email}</dd>
            <dt>Role</dt>
            <dd>{me.role}</dd>
            <dt>Member since</dt>
            <dd>{time(me.created_at)}</dd>
          </dl>
        </div>
        <TwoFactor me={me} />
        <Sessions />
      </div>
      <div>
        <Appearance />
        <PasswordForm />
      </div>
    </section>
  );
}

const THEMES: [Theme, string][] = [
  ["system", "Follow the system"],
  ["light", "Light"],
  ["dark", "Dark"],
];

function Appearance() {
  const saved = (usePreferences().data ?? DEFAULT_PREFERENCES).theme;
  // The radio follows the click at once; the cache (and the page's theme) a moment later.
  const [picked, setPicked] = useState<Theme | null>(null);
  const theme = picked ?? saved;
  const update = useUpdatePreferences();
  return (
    <div className="card" id="appearance">
      <h2>Appearance</h2>
      <div role="radiogroup" aria-label="Theme" className="choices">
        {THEMES.map(([value, label]) => (
          <label key={value} className="choice">
            <input
              type="radio"
              name="theme"
              value={value}
              checked={theme === value}
              onChange={() => {
                setPicked(value);
                update({ theme: value });
              }}
            />
            {label}
          </label>
        ))}
      </div>
      <LayoutChoices />
      <p className="small muted">Saved with your account: it follows you to any browser.</p>
    </div>
  );
}

const DENSITIES: [Density, string][] = [
  ["comfortable", "Comfortable"],
  ["compact", "Compact"],
];

/** Density (every page) and the trade screen's panels. */
function LayoutChoices() {
  const saved = useLayout();
  // The controls follow a click at once; the cache (and the page) a moment later.
  const [picked, setPicked] = useState<Layout | null>(null);
  const layout = picked ?? saved;
  const update = useUpdatePreferences();
  const save = (change: Partial<Layout>) => {
    const next = { ...layout, ...change };
    setPicked(next);
    update({ layout: next });
  };
  const hidden = new Set(layout.hidden_panels);
  return (
    <>
      <h3>Density</h3>
      <div role="radiogroup" aria-label="Density" className="choices" id="density">
        {DENSITIES.map(([value, label]) => (
          <label key={value} className="choice">
            <input
              type="radio"
              name="density"
              value={value}
              checked={layout.density === value}
              onChange={() => save({ density: value })}
            />
            {label}
          </label>
        ))}
      </div>
      <h3>Trade screen panels</h3>
      <div className="choices" id="panels">
        {PANELS.map(([panel, label]) => (
          <label key={panel} className="choice">
            <input
              type="checkbox"
              name={`panel-${panel}`}
              checked={!hidden.has(panel)}
              onChange={(event) =>
                save({
                  hidden_panels: event.target.checked
                    ? layout.hidden_panels.filter((p) => p !== panel)
                    : [...layout.hidden_panels, panel],
                })
              }
            />
            {label}
          </label>
        ))}
      </div>
    </>
  );
}

function PasswordForm() {
  const { api, session } = useClients();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const change = useMutation({
    mutationFn: async () => {
      if (next !== again) throw new Error("The new passwords do not match.");
      await api.post("/users/me/password", { current_password: current, new_password: next });
    },
    // Every session ends with a password change, this one too.
    onSuccess: () => session.end("Your password was changed: sign in with the new one."),
  });
  return (
    <div className="card">
      <h2>Change password</h2>
      <form
        id="password-form"
        onSubmit={(event) => {
          event.preventDefault();
          change.mutate();
        }}
      >
        <Field label="Current password">
          <input
            name="current_password"
            type="password"
            required
            autoComplete="current-password"
            value={current}
            onChange={(event) => setCurrent(event.target.value)}
            {...invalid(change.error, "current_password")}
          />
        </Field>
        <Field label="New password" hint="At least 12 characters">
          <input
            name="new_password"
            type="password"
            required
            autoComplete="new-password"
            value={next}
            onChange={(event) => setNext(event.target.value)}
            {...invalid(change.error, "new_password")}
          />
        </Field>
        <Field label="New password again">
          <input
            name="new_password_again"
            type="password"
            required
            autoComplete="new-password"
            value={again}
            onChange={(event) => setAgain(event.target.value)}
          />
        </Field>
        <ErrorBox error={change.error} />
        <p className="small muted">Changing it signs you out everywhere, here too.</p>
        <div className="actions">
          <button type="submit" className="primary" disabled={change.isPending}>
            Change password
          </button>
        </div>
      </form>
    </div>
  );
}

interface RecoveryCodesStatus {
  remaining: number;
  generated_at: string | null;
}

/** Six digits are a TOTP code; anything else is sent as a recovery code. */
function secondFactor(value: string): { code: string } | { recovery_code: string } {
  const text = value.trim();
  return /^\d{6}$/.test(text) ? { code: text } : { recovery_code: text };
}

function TwoFactor({ me }: { me: User }) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  // New recovery codes, shown once (after enrolment or regeneration) until dismissed.
  const [fresh, setFresh] = useState<string[] | null>(null);
  const recovery = useQuery({
    queryKey: keys.recoveryCodes,
    queryFn: () => api.get<RecoveryCodesStatus>("/auth/2fa/recovery-codes"),
    enabled: me.totp_enabled,
    retry: (count, error) => !routeMissing(error) && count < 2,
  });

  const start = useMutation({
    mutationFn: () => api.post<TotpSetup>("/auth/2fa/setup", {}),
    onSuccess: (answer) => {
      setSetup(answer);
      setCode("");
    },
  });
  const enable = useMutation({
    mutationFn: () =>
      api.post<{ recovery_codes?: string[] } | undefined>("/auth/2fa/enable", {
        code: code.trim(),
      }),
    onSuccess: async (answer) => {
      setSetup(null);
      setCode("");
      setFresh(answer?.recovery_codes ?? null);
      toast("Two-factor authentication is on");
      await queryClient.invalidateQueries({ queryKey: keys.me });
      await queryClient.invalidateQueries({ queryKey: keys.recoveryCodes });
    },
  });
  const disable = useMutation({
    mutationFn: () => api.post("/auth/2fa/disable", { password, ...secondFactor(code) }),
    onSuccess: async () => {
      setCode("");
      setPassword("");
      setFresh(null);
      toast("Two-factor authentication is off");
      await queryClient.invalidateQueries({ queryKey: keys.me });
      queryClient.removeQueries({ queryKey: keys.recoveryCodes });
    },
  });
  const regenerate = useMutation({
    mutationFn: () =>
      api.post<{ recovery_codes: string[] }>("/auth/2fa/recovery-codes", {
        password,
        code: code.trim(),
      }),
    onSuccess: async (answer) => {
      setCode("");
      setPassword("");
      setFresh(answer.recovery_codes);
      toast("New recovery codes made; the old ones no longer work");
      await queryClient.invalidateQueries({ queryKey: keys.recoveryCodes });
    },
  });
  const error = start.error ?? enable.error ?? disable.error ?? regenerate.error;
  const remaining = recovery.data?.remaining;

  return (
    <div className="card" id="two-factor" data-enabled={me.totp_enabled ? "true" : "false"}>
      <h2>Two-factor authentication</h2>
      {fresh ? <FreshCodes codes={fresh} email={me.email} done={() => setFresh(null)} /> : null}
      {me.totp_enabled ? (
        <>
          <p>
            <span className="status status-filled">ON</span> Signing in asks for a code from your
            authenticator app.
          </p>
          <p id="recovery-remaining" data-remaining={remaining ?? ""}>
            Recovery codes left:{" "}
            <strong className={remaining !== undefined && remaining <= 2 ? "down" : undefined}>
              {remaining === undefined ? "-" : `${remaining} of 10`}
            </strong>
            {remaining !== undefined && remaining <= 2 ? " - make new ones below" : null}
          </p>
          <form
            className="inline"
            id="totp-disable"
            onSubmit={(event) => {
              event.preventDefault();
              const submitter = (event.nativeEvent as SubmitEvent).submitter;
              if (submitter?.dataset.action === "regenerate") regenerate.mutate();
              else disable.mutate();
            }}
          >
            <Field label="Password">
              <input
                name="password"
                type="password"
                required
                autoComplete="current-password"
                value={password}
                onChange={(event) => setPassword(event.target.value)}
              />
            </Field>
            <Field label="Code or recovery code">
              <input
                name="code"
                pattern="\d{6}|[A-Za-z2-7][A-Za-z2-7 \-]{14,30}[A-Za-z2-7]"
                maxLength={32}
                required
                autoComplete="one-time-code"
                value={code}
                onChange={(event) => setCode(event.target.value)}
                {...invalid(disable.error ?? regenerate.error, "code")}
              />
            </Field>
            <button
              type="submit"
              className="secondary"
              data-action="regenerate"
              id="recovery-regenerate"
              title="Needs the password and a code from the app; the old recovery codes stop working"
              disabled={regenerate.isPending}
            >
              New recovery codes
            </button>
            <button type="submit" className="danger" disabled={disable.isPending}>
              Turn off
            </button>
          </form>
        </>
      ) : setup ? (
        <form
          id="totp-enable"
          onSubmit={(event) => {
            event.preventDefault();
            enable.mutate();
          }}
        >
          <p>Scan the code with an authenticator app, then enter the 6 digits it shows.</p>
          <QrCode text={setup.otpauth_uri} />
          <p className="small">
            Or enter the key by hand: <code id="totp-secret">{setup.secret}</code>
          </p>
          <Field label="Code from the app">
            <input
              name="code"
              inputMode="numeric"
              pattern="\d{6}"
              maxLength={6}
              required
              autoComplete="one-time-code"
              value={code}
              onChange={(event) => setCode(event.target.value)}
              {...invalid(enable.error, "code")}
            />
          </Field>
          <div className="actions">
            <button type="button" className="secondary" onClick={() => setSetup(null)}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={enable.isPending}>
              Turn on
            </button>
          </div>
        </form>
      ) : (
        <>
          <p>
            <span className="status">OFF</span> Add a code from an authenticator app to your
            password.
          </p>
          <button
            type="button"
            className="primary"
            id="totp-start"
            disabled={start.isPending}
            onClick={() => start.mutate()}
          >
            Set up two-factor authentication
          </button>
        </>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

/** Recovery codes just made: shown this once, to copy, download or print. */
function FreshCodes({ codes, email, done }: { codes: string[]; email: string; done: () => void }) {
  const toast = useToast();
  const text = `algotrade recovery codes for ${email}\nEach works once in place of an authenticator code.\n\n${codes.join("\n")}\n`;
  const download = useMemo(
    () => `data:text/plain;charset=utf-8,${encodeURIComponent(text)}`,
    [text],
  );
  return (
    <div className="recovery-codes" id="recovery-codes" role="region" aria-label="Recovery codes">
      <p>
        <strong>Save these recovery codes now.</strong> Each one signs you in once if you lose your
        authenticator; they are not shown again.
      </p>
      <ol className="codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="actions">
        <button
          type="button"
          className="secondary"
          onClick={() =>
            void navigator.clipboard?.writeText(text).then(
              () => toast("Recovery codes copied"),
              () => toast("Copying is not allowed here; download them instead"),
            )
          }
        >
          Copy
        </button>
        <a className="button secondary" href={download} download="algotrade-recovery-codes.txt">
          Download
        </a>
        <button type="button" className="primary" id="recovery-saved" onClick={done}>
          I have saved them
        </button>
      </div>
    </div>
  );
}

/** A QR code drawn as an SVG image (lean-qr), crisp at any size and in either theme. */
function QrCode({ text }: { text: string }) {
  const src = useMemo(
    () => toSvgDataURL(generate(text), { on: "black", off: "white", pad: 2 }),
    [text],
  );
  return <img className="qr" id="totp-qr" src={src} alt="QR code of the authenticator key" />;
}

function Sessions() {
  const { api, session } = useClients();
  const confirm = useConfirm();
  const sessions = useQuery({
    queryKey: ["sessions"],
    queryFn: () => api.get<LoginSession[]>("/users/me/sessions"),
  });
  const endAll = useMutation({
    mutationFn: () => {
      session.expectEnd("You signed out everywhere.");
      return api.post("/users/me/sessions/end-all", {});
    },
    onSuccess: () => session.end(),
    onError: () => session.expectEnd(null),
  });
  if (routeMissing(sessions.error)) return <NotAvailable what="Sessions" />;
  return (
    <div className="card" id="sessions">
      <div className="card-head">
        <h2>Sessions</h2>
        <span className="spacer" />
        <button
          type="button"
          className="danger"
          id="sign-out-everywhere"
          disabled={endAll.isPending}
          onClick={async () => {
            const ok = await confirm(
              "Sign out everywhere?",
              "Every browser and app signed in as you is signed out, this one too.",
              "Sign out everywhere",
            );
            if (ok) endAll.mutate();
          }}
        >
          Sign out everywhere
        </button>
      </div>
      <ErrorBox error={sessions.error ?? endAll.error} />
      <div className="scroll">
        <table className="grid" id="session-list">
          <thead>
            <tr>
              <th>Signed in</th>
              <th className="p2">Last active</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {sessions.data?.map((s) => (
              <tr key={s.id} className={s.current ? "selected" : undefined}>
                <td className="small nowrap">
                  {time(s.created_at)}
                  {s.current ? <div className="tag">this browser</div> : null}
                </td>
                <td className="small nowrap p2">{time(s.last_used_at)}</td>
                <td className="small wrap">
                  {[s.ip_address, browserName(s.user_agent)].filter(Boolean).join(" · ") || "-"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** "Chrome on Linux" from a user agent string, roughly; the string itself when unknown. */
function browserName(agent: string | null): string {
  if (!agent) return "";
  const browser = /Edg\//.test(agent)
    ? "Edge"
    : /Firefox\//.test(agent)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(agent)
        ? "Chrome"
        : /Safari\//.test(agent)
          ? "Safari"
          : "";
  const os = /Android/.test(agent)
    ? "Android"
    : /iPhone|iPad/.test(agent)
      ? "iOS"
      : /Windows/.test(agent)
        ? "Windows"
        : /Mac OS/.test(agent)
          ? "macOS"
          : /Linux/.test(agent)
            ? "Linux"
            : "";
  return browser ? `${browser}${os ? ` on ${os}` : ""}` : agent.slice(0, 60);
}
