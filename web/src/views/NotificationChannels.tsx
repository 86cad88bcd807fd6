/**
 * Notification settings: each channel (WebSocket, e-mail, Telegram, Slack, Discord,
 * webhook) on or off, the lowest severity it gets, the kinds it gets (none ticked: all),
 * its configuration (secret fields are write-only: left empty, the stored value stays),
 * and "send a test" (the answer says whether the receiver took it).
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../context";
import {
  ALERT_KINDS,
  CHANNEL_KINDS,
  SEVERITIES,
  useNotificationChannels,
  type ChannelTest,
  type NotificationChannel,
} from "../server/alerts";
import { keys } from "../server/keys";
import { ErrorBox, NotAvailable, invalid, routeMissing } from "../ui/errors";
import { useConfirm, useToast } from "../ui/feedback";
import { Field, Select } from "../ui/fields";

const KIND_TEXT: Record<string, string> = {
  websocket: "Dashboard (WebSocket)",
  email: "E-mail",
  telegram: "Telegram",
  slack: "Slack",
  discord: "Discord",
  webhook: "Webhook",
};

interface ConfigField {
  name: string;
  label: string;
  secret?: boolean;
  type?: "number" | "select";
  options?: string[];
  hint?: string;
}

const CONFIG_FIELDS: Record<string, ConfigField[]> = {
  websocket: [],
  email: [
    { name: "host", label: "SMTP server" },
    { name: "port", label: "Port", type: "select", options: ["587", "465", "25", "2525"] },
    { name: "security", label: "Security", type: "select", options: ["starttls", "tls", "none"] },
    { name: "username", label: "User name" },
    { name: "password", label: "Password", secret: true },
    { name: "from", label: "From" },
    { name: "to", label: "To", hint: "one to ten addresses, comma separated" },
  ],
  telegram: [
    { name: "bot_token", label: "Bot token", secret: true },
    { name: "chat_id", label: "Chat id", hint: "a number, or @channelname" },
  ],
  slack: [{ name: "url", label: "Incoming webhook URL", secret: true }],
  discord: [{ name: "url", label: "Webhook URL", secret: true }],
  webhook: [
    { name: "url", label: "URL", hint: "https only" },
    {
      name: "secret",
      label: "Signing secret",
      secret: true,
      hint: "16 to 256 characters; left empty, one is made and shown once",
    },
  ],
};

interface Draft {
  name: string;
  enabled: boolean;
  severities: string[];
  kinds: string[];
  config: Record<string, string>;
}

function draftOf(channel: NotificationChannel | null, kind: string): Draft {
  const config: Record<string, string> = {};
  for (const field of CONFIG_FIELDS[kind] ?? []) {
    const value = channel?.config[field.name];
    config[field.name] = field.secret
      ? ""
      : Array.isArray(value)
        ? value.join(", ")
        : value === undefined || value === null
          ? field.type === "select"
            ? (field.options?.[0] ?? "")
            : ""
          : String(value);
  }
  return {
    name: channel?.name ?? KIND_TEXT[kind] ?? kind,
    enabled: channel?.enabled ?? true,
    severities: channel?.severities ?? [...SEVERITIES],
    kinds: channel?.kinds ?? [],
    config,
  };
}

/** The config as the API takes it: empty fields left out (a secret left out is kept). */
function configBody(kind: string, config: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS[kind] ?? []) {
    const value = (config[field.name] ?? "").trim();
    if (!value) continue;
    if (field.name === "port") body.port = Number(value);
    else if (field.name === "chat_id" && /^-?\d+$/.test(value)) body.chat_id = Number(value);
    else body[field.name] = value;
  }
  return body;
}

export function NotificationChannels() {
  const channels = useNotificationChannels();
  const [adding, setAdding] = useState(false);
  if (routeMissing(channels.error)) return <NotAvailable what="Notification settings" />;
  const list = channels.data?.items ?? [];
  return (
    <div className="card" id="notification-channels">
      <div className="card-head wrap-head">
        <h2>Notification settings</h2>
        <span className="spacer" />
        <button
          type="button"
          className="small"
          id="add-channel"
          aria-expanded={adding}
          onClick={() => setAdding((held) => !held)}
        >
          {adding ? "Close" : "Add a channel"}
        </button>
      </div>
      <ErrorBox error={channels.error} />
      {channels.data?.websocket_default ? <DefaultWebsocket /> : null}
      {adding ? <NewChannel done={() => setAdding(false)} /> : null}
      {list.map((channel) => (
        <ChannelEditor key={`${channel.id}:${channel.updated_at}`} channel={channel} />
      ))}
      {!list.length && !channels.data?.websocket_default ? (
        <p className="muted">No channel: alerts are kept in the history only.</p>
      ) : null}
    </div>
  );
}

/** The dashboard's own channel before it is saved: every alert, nothing to configure. */
function DefaultWebsocket() {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: () =>
      api.post<NotificationChannel>("/notification-channels", { kind: "websocket" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.notificationChannels }),
  });
  return (
    <div className="channel" data-kind="websocket" data-channel="default">
      <div className="channel-head">
        <strong>{KIND_TEXT.websocket}</strong>
        <span className="muted small">on for every alert (the default)</span>
        <span className="spacer" />
        <button
          type="button"
          className="small"
          id="customise-websocket"
          disabled={save.isPending}
          onClick={() => save.mutate()}
        >
          Choose what it gets
        </button>
      </div>
      <ErrorBox error={save.error} />
    </div>
  );
}

function NewChannel({ done }: { done: () => void }) {
  const [kind, setKind] = useState("webhook");
  return (
    <div className="channel new-channel" id="new-channel">
      <Field label="Kind">
        <Select
          name="kind"
          options={CHANNEL_KINDS.map((k): [string, string] => [k, KIND_TEXT[k] ?? k])}
          value={kind}
          onChange={(event) => setKind(event.target.value)}
        />
      </Field>
      <ChannelEditor key={kind} kind={kind} channel={null} created={done} />
    </div>
  );
}

function ChannelEditor({
  channel,
  kind = channel?.kind ?? "websocket",
  created,
}: {
  channel: NotificationChannel | null;
  kind?: string;
  created?: () => void;
}) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const toast = useToast();
  const [draft, setDraft] = useState<Draft>(() => draftOf(channel, kind));
  const [revealed, setRevealed] = useState<Record<string, string>>({});
  const [test, setTest] = useState<ChannelTest | null>(null);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: keys.notificationChannels });
  const body = () => ({
    name: draft.name.trim() || (KIND_TEXT[kind] ?? kind),
    enabled: draft.enabled,
    severities: draft.severities,
    kinds: draft.kinds,
    config: configBody(kind, draft.config),
  });
  const save = useMutation({
    mutationFn: () =>
      channel === null
        ? api.post<NotificationChannel>("/notification-channels", { kind, ...body() })
        : api.patch<NotificationChannel>(`/notification-channels/${channel.id}`, body()),
    onSuccess: (saved) => {
      toast(`${saved.name} saved`);
      if (Object.keys(saved.revealed ?? {}).length) {
        setRevealed(saved.revealed);
        return; // shown once: the list is read again when it is put away
      }
      refresh();
      created?.();
    },
  });
  const remove = useMutation({
    mutationFn: () => api.delete(`/notification-channels/${channel!.id}`),
    onSuccess: refresh,
  });
  const sendTest = useMutation({
    mutationFn: () => api.post<ChannelTest>(`/notification-channels/${channel!.id}/test`),
    onSuccess: (answer) => {
      setTest(answer);
      void queryClient.invalidateQueries({ queryKey: keys.alerts });
    },
  });
  const error = save.error ?? remove.error ?? sendTest.error;
  const set = (change: Partial<Draft>) => setDraft((held) => ({ ...held, ...change }));
  const toggleKind = (k: string, on: boolean) =>
    set({ kinds: on ? [...draft.kinds, k] : draft.kinds.filter((x) => x !== k) });
  // Kept in rank order, as the API answers them.
  const toggleSeverity = (s: string, on: boolean) =>
    set({
      severities: SEVERITIES.filter((x) => (x === s ? on : draft.severities.includes(x))),
    });
  const fields = CONFIG_FIELDS[kind] ?? [];
  return (
    <form
      className="channel"
      data-kind={kind}
      data-channel={channel?.id ?? "new"}
      data-enabled={channel ? String(channel.enabled) : undefined}
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <div className="channel-head">
        <strong>{channel ? channel.name : `New ${KIND_TEXT[kind] ?? kind} channel`}</strong>
        <span className="muted small">{KIND_TEXT[kind] ?? kind}</span>
        <span className="spacer" />
        <label className="choice">
          <input
            type="checkbox"
            name="enabled"
            checked={draft.enabled}
            onChange={(event) => set({ enabled: event.target.checked })}
          />
          On
        </label>
      </div>
      <div className="row3">
        <Field label="Name">
          <input
            name="name"
            maxLength={100}
            value={draft.name}
            onChange={(event) => set({ name: event.target.value })}
            {...invalid(error, "name")}
          />
        </Field>
        {fields.map((field) => (
          <Field
            key={field.name}
            label={field.label}
            hint={
              field.secret && channel?.secrets_set.includes(field.name)
                ? "set; left empty, it stays"
                : field.hint
            }
          >
            {field.type === "select" ? (
              <Select
                name={`config.${field.name}`}
                options={field.options ?? []}
                value={draft.config[field.name] ?? ""}
                onChange={(event) =>
                  set({ config: { ...draft.config, [field.name]: event.target.value } })
                }
              />
            ) : (
              <input
                name={`config.${field.name}`}
                type={field.secret ? "password" : "text"}
                autoComplete="off"
                value={draft.config[field.name] ?? ""}
                onChange={(event) =>
                  set({ config: { ...draft.config, [field.name]: event.target.value } })
                }
                {...invalid(error, `config.${field.name}`)}
              />
            )}
          </Field>
        ))}
      </div>
      <fieldset className="severities">
        <legend>Severities (at least one)</legend>
        {SEVERITIES.map((s) => (
          <label key={s} className="choice small">
            <input
              type="checkbox"
              name={`severity-${s}`}
              checked={draft.severities.includes(s)}
              // The last one ticked stays: a channel sends at least one severity.
              disabled={draft.severities.length === 1 && draft.severities.includes(s)}
              onChange={(event) => toggleSeverity(s, event.target.checked)}
            />
            {s}
          </label>
        ))}
      </fieldset>
      <fieldset className="kinds">
        <legend>Kinds (none ticked: every kind)</legend>
        {ALERT_KINDS.filter(([k]) => k !== "test").map(([k, label]) => (
          <label key={k} className="choice small">
            <input
              type="checkbox"
              name={`kind-${k}`}
              checked={draft.kinds.includes(k)}
              onChange={(event) => toggleKind(k, event.target.checked)}
            />
            {label}
          </label>
        ))}
      </fieldset>
      {Object.keys(revealed).length ? (
        <div className="notice revealed">
          {Object.entries(revealed).map(([name, value]) => (
            <p key={name}>
              {`Your ${name.replace(/_/g, " ")}, shown this once: `}
              <code>{value}</code>
            </p>
          ))}
          <button
            type="button"
            className="small"
            onClick={() => {
              setRevealed({});
              refresh();
              created?.();
            }}
          >
            I have saved it
          </button>
        </div>
      ) : null}
      <ErrorBox error={error} />
      {test ? (
        <p
          className={`test-result ${test.status === "sent" ? "ok" : "error"}`}
          data-status={test.status}
        >
          {test.status === "sent"
            ? "Test sent."
            : `Test failed: ${test.error ?? "the receiver refused it"}`}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary save-channel" disabled={save.isPending}>
          {channel ? "Save" : "Add channel"}
        </button>
        {channel ? (
          <>
            <button
              type="button"
              className="send-test"
              disabled={sendTest.isPending}
              onClick={() => sendTest.mutate()}
            >
              Send a test
            </button>
            <button
              type="button"
              className="secondary delete-channel"
              disabled={remove.isPending}
              onClick={() =>
                void confirm(
                  `Delete ${channel.name}?`,
                  "Alerts stop going to this channel.",
                  "Delete",
                ).then((ok) => ok && remove.mutate())
              }
            >
              Delete
            </button>
          </>
        ) : null}
      </div>
    </form>
  );
}
