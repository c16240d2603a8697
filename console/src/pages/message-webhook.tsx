/**
 * A host app's push webhook for subscription messages (PRODUCT.md T5; issue 14: "an optional push
 * webhook per host app (HMAC-signed body, retries with backoff on a Cloudflare Queue, a dead-letter
 * record after the last try, visible in the console)"). Managers configure the URL, rotate the
 * signing secret (shown once, in memory only) and remove it; auditors read it and the dead letters.
 * API: control-plane/src/routes/messages.ts, docs/messages.md.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { Me } from "../types";
import {
  asApiError,
  Confirm,
  CopyButton,
  ErrorNote,
  Field,
  fmtDate,
  formValue,
  Loading,
  Notice,
  useLoad,
} from "../ui";

interface Webhook {
  hostAppId: string;
  url: string;
  secretSetAt: number;
  updatedBy: string;
  updatedAt: number;
  secret?: string;
}
interface DeadLetter {
  id: string;
  messageId: string;
  appId: string;
  url: string;
  attempts: number;
  lastError: string;
  createdAt: number;
}

const DEAD_LETTER_PAGE = 20;

export function MessageWebhookPage(props: { me: Me; hostAppId: string }) {
  const { me, hostAppId } = props;
  const base = `/v1/host-apps/${hostAppId}/message-webhook`;
  // 404 is "none configured", not an error to show.
  const hook = useLoad(
    () =>
      api<Webhook>("GET", base).catch((e) => {
        if (asApiError(e).status === 404) return null;
        throw e;
      }),
    [hostAppId],
  );
  const mine = me.hostApps.find((h) => h.id === hostAppId);
  const canManage = me.isPlatformAdmin || mine?.role === "manager";
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [actionError, setActionError] = useState<ApiError | undefined>(undefined);
  const [ask, setAsk] = useState<"rotate" | "remove" | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState("");

  const put = async (url: string, rotateSecret: boolean) => {
    const w = await api<Webhook>("PUT", base, { url, rotateSecret });
    setSecret(w.secret ?? null);
    hook.reload();
    return w;
  };

  const w = hook.data;
  return (
    <section>
      <p class="crumbs">
        <a href="#/host-apps">Host apps</a> /
      </p>
      <h1>Message push webhook of {mine?.name ?? hostAppId}</h1>
      <p class="hint">
        Every subscription message delivered to a user of this host app lands in the user's inbox and, when a
        webhook is set, is also POSTed to it, signed with HMAC-SHA-256: headers{" "}
        <code>x-graycast-timestamp</code> and{" "}
        <code>x-graycast-signature: sha256=&lt;hex of HMAC(secret, timestamp + "." + body)&gt;</code>. A push
        that fails is retried with backoff (6 tries), then recorded below as a dead letter. See
        docs/messages.md.
      </p>
      {secret && (
        <div class="notice ok shown-once" role="status" aria-label="New signing secret">
          <p>
            <strong>Signing secret.</strong> Put it on the server behind the webhook now:{" "}
            <strong>you will not see it again</strong>. If you lose it, rotate it.
          </p>
          <code id="webhook-secret" class="secret">
            {secret}
          </code>{" "}
          <CopyButton text={secret} label="Copy secret" />
          <div class="actions">
            <button type="button" class="small" onClick={() => setSecret(null)}>
              I have copied it: hide it
            </button>
          </div>
        </div>
      )}
      {notice && <Notice>{notice}</Notice>}
      {!ask && <ErrorNote error={actionError} />}
      {w === undefined ? (
        <Loading error={hook.error} />
      ) : w === null ? (
        <p id="webhook-none">No webhook: delivered messages go to the users' inboxes only.</p>
      ) : (
        <dl class="facts">
          <dt>URL</dt>
          <dd>
            <code id="webhook-url">{w.url}</code>
          </dd>
          <dt>Secret set</dt>
          <dd>{fmtDate(w.secretSetAt)}</dd>
          <dt>Last change</dt>
          <dd>
            {fmtDate(w.updatedAt)} by {w.updatedBy === me.id ? "you" : w.updatedBy}
          </dd>
        </dl>
      )}
      {canManage && w !== undefined && (
        <form
          class="card"
          aria-label="Configure the webhook"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const url = formValue(new FormData(e.target as HTMLFormElement), "url");
            try {
              const saved = await put(url, false);
              setError(undefined);
              setNotice(
                saved.secret
                  ? `Pushes go to ${saved.url}. Copy the signing secret above.`
                  : `Pushes go to ${saved.url} (same signing secret).`,
              );
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <Field
            id="webhook-url-input"
            name="url"
            label="Webhook URL"
            type="url"
            required
            value={w?.url ?? ""}
            placeholder="https://push.example.com/graycast/messages"
            hint="https only (http for 127.0.0.1 or localhost); no user name or password in the URL"
            error={error}
          />
          <ErrorNote error={error} fields={["url"]} />
          <div class="actions">
            <button type="submit" class="primary">
              {w ? "Save URL" : "Set webhook"}
            </button>
            {w && (
              <>
                <button
                  type="button"
                  onClick={() => {
                    setActionError(undefined);
                    setAsk("rotate");
                  }}
                >
                  Rotate secret
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() => {
                    setActionError(undefined);
                    setAsk("remove");
                  }}
                >
                  Remove webhook
                </button>
              </>
            )}
          </div>
        </form>
      )}
      {!canManage && (
        <Notice kind="info">Only the host app's managers configure the webhook and rotate its secret.</Notice>
      )}
      {ask === "rotate" && w && (
        <Confirm
          title="Rotate the signing secret?"
          confirmLabel="Rotate now"
          danger
          onConfirm={async () => {
            try {
              await put(w.url, true);
              setAsk(null);
              setNotice("New signing secret: the old one stopped signing at once.");
            } catch (err) {
              setActionError(asApiError(err));
            }
          }}
          onCancel={() => setAsk(null)}
        >
          <p>
            The old secret stops signing <strong>at once</strong>: pushes (retries too) are signed with the
            new one, shown once on this page. Your server refuses them until it has the new secret.
          </p>
          <ErrorNote error={actionError} />
        </Confirm>
      )}
      {ask === "remove" && w && (
        <Confirm
          title="Remove the webhook?"
          confirmLabel="Remove webhook"
          danger
          onConfirm={async () => {
            try {
              await api("DELETE", base);
              setAsk(null);
              setSecret(null);
              setNotice("Webhook removed: messages go to the users' inboxes only.");
              hook.reload();
            } catch (err) {
              setActionError(asApiError(err));
            }
          }}
          onCancel={() => setAsk(null)}
        >
          <p>
            Messages are no longer pushed (the inboxes still get them); pushes already queued are dropped. Its
            secret is gone: a new webhook gets a new one.
          </p>
          <ErrorNote error={actionError} />
        </Confirm>
      )}
      <DeadLetters base={base} />
    </section>
  );
}

function DeadLetters(props: { base: string }) {
  // The cursors of the pages seen so far: back is the previous one, forward is nextCursor.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => {
    const qs = new URLSearchParams({ limit: String(DEAD_LETTER_PAGE) });
    if (cursor) qs.set("cursor", cursor);
    return api<{ deadLetters: DeadLetter[]; nextCursor: string | null }>(
      "GET",
      `${props.base}/dead-letters?${qs}`,
    );
  }, [props.base, cursor]);
  return (
    <article class="block" aria-labelledby="dead-letters">
      <h2 id="dead-letters">Dead letters</h2>
      <p class="hint">
        Pushes that failed their last try, newest first. The message itself stays in the user's inbox.
      </p>
      {!page.data ? (
        <Loading error={page.error} />
      ) : page.data.deadLetters.length === 0 ? (
        <p>{cursors.length > 1 ? "No older dead letters." : "No dead letters."}</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Dead letters">
            <thead>
              <tr>
                <th scope="col">Failed</th>
                <th scope="col">Message</th>
                <th scope="col">Mini program</th>
                <th scope="col">URL</th>
                <th scope="col">Tries</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {page.data.deadLetters.map((d) => (
                <tr>
                  <td>{fmtDate(d.createdAt)}</td>
                  <td>
                    <code>{d.messageId}</code>
                  </td>
                  <td>
                    <code>{d.appId}</code>
                  </td>
                  <td>
                    <code>{d.url}</code>
                  </td>
                  <td>{d.attempts}</td>
                  <td>{d.lastError}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(cursors.length > 1 || page.data?.nextCursor) && (
        <nav class="actions" aria-label="Dead letter pages">
          <button
            type="button"
            class="small"
            disabled={cursors.length <= 1}
            onClick={() => setCursors(cursors.slice(0, -1))}
          >
            Newer
          </button>
          <button
            type="button"
            class="small"
            disabled={!page.data?.nextCursor}
            onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}
          >
            Older
          </button>
        </nav>
      )}
    </article>
  );
}
