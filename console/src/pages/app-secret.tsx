/**
 * The AppSecret tab (PRODUCT.md X5; seed "Key Management": "Only the mini program team
 * administrator has the authority to view and operate key management. You can generate, reset,
 * and freeze keys"). API: control-plane/src/routes/app-secrets.ts, docs/server-api.md.
 * The secret is in the generate / reset answer only: the page shows it once, in memory, and
 * never writes it anywhere (no storage, no URL); leaving the page forgets it.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { AppContext } from "../pages";
import { isTeamAdmin } from "../session";
import {
  asApiError,
  Confirm,
  CopyButton,
  ErrorNote,
  fmtDate,
  Loading,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";

interface SecretStatus {
  appId: string;
  exists: boolean;
  frozen: boolean;
  hint: string | null;
  generation: number;
  createdAt: number | null;
  createdBy: string | null;
  resetAt: number | null;
  resetBy: string | null;
  frozenAt: number | null;
  frozenBy: string | null;
}

type Ask = "reset" | "freeze" | "unfreeze" | null;

export function AppSecretPage(props: AppContext) {
  const { me, mp, appId } = props;
  const team = me.teams.find((t) => t.id === mp.teamId);
  if (!isTeamAdmin(me, mp.teamId))
    return (
      <section>
        <h2>AppSecret</h2>
        <Notice kind="info">
          Only the mini program team administrator can view and operate key management (the AppSecret).
          {team ? ` You are a ${team.role} of ${team.name}.` : ""} Ask a team admin of this mini program to
          generate, reset or freeze it.
        </Notice>
      </section>
    );
  return <SecretAdmin appId={appId} meId={me.id} />;
}

function SecretAdmin(props: { appId: string; meId: string }) {
  const base = `/v1/mini-programs/${props.appId}/secret`;
  const status = useLoad(() => api<SecretStatus>("GET", base), [props.appId]);
  const [shown, setShown] = useState<{ secret: string; hint: string | null; reset: boolean } | null>(null);
  const [ask, setAsk] = useState<Ask>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const who = (id: string | null) => (id === null ? "—" : id === props.meId ? "you" : id);

  const act = async (action: "generate" | "reset" | "freeze" | "unfreeze") => {
    try {
      const answer = await api<SecretStatus & { secret?: string }>("POST", `${base}/${action}`);
      setError(undefined);
      setAsk(null);
      if (answer.secret) {
        setShown({ secret: answer.secret, hint: answer.hint, reset: action === "reset" });
        setNotice("");
      } else {
        setShown(null);
        setNotice(
          action === "freeze"
            ? "The AppSecret is frozen: every server API refuses it (errcode 40243)."
            : "The AppSecret is unfrozen: it works again.",
        );
      }
      status.reload();
    } catch (err) {
      setError(asApiError(err));
    }
  };

  const s = status.data;
  return (
    <section>
      <h2>AppSecret</h2>
      <p class="hint">
        The mini program's server uses the AppSecret to exchange login codes (
        <code>GET /sns/jscode2session</code>) and get access tokens (<code>GET /cgi-bin/token</code>).
        Graycast keeps only a keyed hash of it: it is shown once, when generated or reset. See
        docs/server-api.md.
      </p>
      {shown && (
        <div class="notice ok shown-once" role="status" aria-label="New AppSecret">
          <p>
            <strong>{shown.reset ? "New AppSecret" : "AppSecret generated"}.</strong> Copy it now and put it
            on your server: <strong>you will not see it again</strong>. If you lose it, reset it.
          </p>
          <code id="new-secret" class="secret">
            {shown.secret}
          </code>{" "}
          <CopyButton text={shown.secret} label="Copy AppSecret" />
          <div class="actions">
            <button type="button" class="small" onClick={() => setShown(null)}>
              I have copied it: hide it
            </button>
          </div>
        </div>
      )}
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={ask ? undefined : error} />
      {!s ? (
        <Loading error={status.error} />
      ) : (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              {!s.exists ? (
                <StatusBadge status="none" />
              ) : s.frozen ? (
                <StatusBadge status="frozen" />
              ) : (
                <StatusBadge status="active" />
              )}
            </dd>
            <dt>Secret</dt>
            <dd>
              {s.hint ? (
                <>
                  <code id="secret-hint">{s.hint}</code>{" "}
                  <small class="hint">its first 8 characters, to tell which secret a server holds</small>
                </>
              ) : (
                "not generated yet"
              )}
            </dd>
            <dt>Generation</dt>
            <dd>{s.generation === 0 ? "—" : `${s.generation} (1 for the first secret, +1 on each reset)`}</dd>
            <dt>Generated</dt>
            <dd>{s.createdAt ? `${fmtDate(s.createdAt)} by ${who(s.createdBy)}` : "—"}</dd>
            <dt>Last reset</dt>
            <dd>{s.resetAt ? `${fmtDate(s.resetAt)} by ${who(s.resetBy)}` : "never"}</dd>
            {s.frozen && (
              <>
                <dt>Frozen</dt>
                <dd>{`${fmtDate(s.frozenAt)} by ${who(s.frozenBy)}`}</dd>
              </>
            )}
          </dl>
          <div class="actions">
            {!s.exists ? (
              <button type="button" class="primary" onClick={() => act("generate")}>
                Generate AppSecret
              </button>
            ) : (
              <>
                <button type="button" class="danger" onClick={() => setAsk("reset")}>
                  Reset AppSecret
                </button>
                {s.frozen ? (
                  <button type="button" onClick={() => setAsk("unfreeze")}>
                    Unfreeze
                  </button>
                ) : (
                  <button type="button" class="danger" onClick={() => setAsk("freeze")}>
                    Freeze
                  </button>
                )}
              </>
            )}
          </div>
          {ask === "reset" && (
            <Confirm
              title="Reset the AppSecret?"
              confirmLabel="Reset now"
              danger
              onConfirm={() => act("reset")}
              onCancel={() => setAsk(null)}
            >
              <p>
                The old secret (<code>{s.hint}</code>) stops working <strong>at once</strong>, and so do the
                access tokens minted with it: your server gets errcode 40001 until it has the new secret.
              </p>
              <p>The new secret is shown once, on this page.{s.frozen ? " It is not frozen." : ""}</p>
              <ErrorNote error={error} />
            </Confirm>
          )}
          {ask === "freeze" && (
            <Confirm
              title="Freeze the AppSecret?"
              confirmLabel="Freeze"
              danger
              onConfirm={() => act("freeze")}
              onCancel={() => setAsk(null)}
            >
              <p>
                For a secret that leaked or may have leaked. Until you unfreeze or reset it, every server API
                refuses it and the access tokens minted with it (errcode 40243): your mini program's users
                cannot log in to its back end.
              </p>
              <ErrorNote error={error} />
            </Confirm>
          )}
          {ask === "unfreeze" && (
            <Confirm
              title="Unfreeze the AppSecret?"
              confirmLabel="Unfreeze"
              onConfirm={() => act("unfreeze")}
              onCancel={() => setAsk(null)}
            >
              <p>
                The same secret (<code>{s.hint}</code>) and its unexpired access tokens work again. If it
                leaked, reset it instead.
              </p>
              <ErrorNote error={error} />
            </Confirm>
          )}
        </>
      )}
    </section>
  );
}
