/**
 * The team's notification webhook, a section of the team page (issue 15: "the team is notified in
 * the change log and, if configured, a webhook"): team admins set the https URL and events, see a
 * new signing secret once (on creation or rotation), remove it, and list the notifications that
 * failed their last try. Everything is the admin API's /v1/teams/{teamId}/webhook.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import {
  asApiError,
  Confirm,
  CopyButton,
  ErrorNote,
  Field,
  fmtDate,
  formValue,
  Notice,
  useLoad,
} from "../ui";

const EVENTS = [
  { id: "grayscale.guardrail_tripped", label: "A guardrail suspended a grayscale task (with the figures)" },
] as const;

interface TeamWebhook {
  teamId: string;
  url: string;
  events: string[];
  secretSetAt: number;
  updatedBy: string;
  updatedAt: number;
  secret?: string;
}
interface DeadLetter {
  id: string;
  type: string;
  url: string;
  attempts: number;
  lastError: string;
  failedAt: number;
  payload: { taskId?: string; appId?: string };
}

/** null: no webhook configured (the API answers 404). */
async function loadHook(path: string): Promise<TeamWebhook | null> {
  try {
    return await api<TeamWebhook>("GET", path);
  } catch (err) {
    if (asApiError(err).status === 404) return null;
    throw err;
  }
}

export function TeamWebhookSection(props: { teamId: string }) {
  const path = `/v1/teams/${props.teamId}/webhook`;
  const hook = useLoad(() => loadHook(path), [props.teamId]);
  const dead = useLoad(
    () => api<{ deadLetters: DeadLetter[] }>("GET", `${path}/dead-letters?limit=20`),
    [props.teamId],
  );
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const [confirm, setConfirm] = useState<"rotate" | "remove" | undefined>(undefined);
  const put = async (body: { url: string; events: string[]; rotateSecret: boolean }) => {
    try {
      const r = await api<TeamWebhook>("PUT", path, body);
      setSecret(r.secret);
      setError(undefined);
      hook.reload();
    } catch (err) {
      setError(asApiError(err));
    }
  };
  const current = hook.data;
  return (
    <section aria-labelledby="team-webhook-title">
      <h2 id="team-webhook-title">Notification webhook</h2>
      <p class="hint">
        Besides the change log, the team's events can be POSTed to your server, signed with HMAC-SHA-256
        (headers <code>x-graycast-timestamp</code> and <code>x-graycast-signature</code>; docs/messages.md has
        the verification recipe). Failed deliveries are retried with backoff, 6 tries in all.
      </p>
      <ErrorNote error={error ?? hook.error} fields={["url", "events"]} />
      {secret && (
        <Notice>
          Signing secret, shown this once — store it now: <code>{secret}</code>{" "}
          <CopyButton text={secret} label="Copy secret" />
        </Notice>
      )}
      {current === undefined ? null : (
        <form
          aria-label="Team notification webhook"
          onSubmit={(e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            put({
              url: formValue(form, "url"),
              events: form.getAll("events").map(String),
              rotateSecret: false,
            });
          }}
        >
          <Field
            id="team-webhook-url"
            name="url"
            label="URL (https)"
            type="url"
            required
            value={current?.url ?? ""}
            placeholder="https://ops.example.com/graycast/events"
            error={error}
          />
          <fieldset>
            <legend>Events</legend>
            {EVENTS.map((ev) => (
              <label>
                <input
                  type="checkbox"
                  name="events"
                  value={ev.id}
                  checked={current ? current.events.includes(ev.id) : true}
                />{" "}
                <code>{ev.id}</code>: {ev.label}
              </label>
            ))}
          </fieldset>
          {current && (
            <p class="hint">
              Secret set {fmtDate(current.secretSetAt)}; last changed {fmtDate(current.updatedAt)}.
            </p>
          )}
          <div class="actions">
            <button type="submit" class="primary">
              {current ? "Save webhook" : "Create webhook"}
            </button>
            {current && (
              <>
                <button type="button" onClick={() => setConfirm("rotate")}>
                  Rotate secret
                </button>
                <button type="button" class="danger" onClick={() => setConfirm("remove")}>
                  Remove webhook
                </button>
              </>
            )}
          </div>
        </form>
      )}
      {confirm === "rotate" && current && (
        <Confirm
          title="Rotate the signing secret?"
          confirmLabel="Rotate"
          onCancel={() => setConfirm(undefined)}
          onConfirm={() => {
            setConfirm(undefined);
            put({ url: current.url, events: current.events, rotateSecret: true });
          }}
        >
          <p>The current secret stops signing at once; your receiver must switch to the new one.</p>
        </Confirm>
      )}
      {confirm === "remove" && (
        <Confirm
          title="Remove the notification webhook?"
          confirmLabel="Remove"
          danger
          onCancel={() => setConfirm(undefined)}
          onConfirm={async () => {
            setConfirm(undefined);
            try {
              await api("DELETE", path);
              setSecret(undefined);
              hook.reload();
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <p>Events are no longer POSTed; the change log keeps them.</p>
        </Confirm>
      )}
      <h3>Failed notifications</h3>
      {dead.data && dead.data.deadLetters.length === 0 ? (
        <p class="hint">None.</p>
      ) : (
        dead.data && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Task</th>
                  <th scope="col">Tries</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Failed</th>
                </tr>
              </thead>
              <tbody>
                {dead.data.deadLetters.map((d) => (
                  <tr>
                    <td>
                      <code>{d.type}</code>
                    </td>
                    <td>{d.payload.taskId ?? "-"}</td>
                    <td>{d.attempts}</td>
                    <td>{d.lastError}</td>
                    <td>{fmtDate(d.failedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
    </section>
  );
}
