/**
 * Team security and accountability: signing keys (PRODUCT.md S2), API tokens (O3) and the change
 * log (O2: who changed what, when).
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import { isTeamAdmin } from "../session";
import type { Me } from "../types";
import {
  asApiError,
  CopyButton,
  ErrorNote,
  Field,
  fmtDate,
  formValue,
  Loading,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";

interface SigningKey {
  id: string;
  name: string;
  alg: string;
  thumbprint: string;
  status: string;
  createdAt: number;
  revokedAt: number | null;
}
interface ApiToken {
  id: string;
  name: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}
interface ChangeLogEntry {
  id: string;
  at: number;
  actorId: string;
  action: string;
  teamId: string | null;
  targetType: string;
  targetId: string;
  detail: Record<string, unknown>;
}

export function SigningKeysPage(props: { me: Me; teamId: string }) {
  const teamId = props.teamId || props.me.teams[0]?.id || "";
  const base = `/v1/teams/${teamId}/signing-keys`;
  const keys = useLoad(
    () => (teamId ? api<{ keys: SigningKey[] }>("GET", base) : Promise.resolve({ keys: [] })),
    [teamId],
  );
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const admin = isTeamAdmin(props.me, teamId);
  const team = props.me.teams.find((t) => t.id === teamId);
  return (
    <section>
      <h1>Signing keys{team ? ` of ${team.name}` : ""}</h1>
      <p class="hint">
        Public keys the team signs packages with (Ed25519 or P-256, as a JWK). An upload signed with a
        registered key is verified before it is stored; the private key never leaves your machine
        (scripts/sign-package.mjs).
      </p>
      {!keys.data ? (
        <Loading error={keys.error} />
      ) : keys.data.keys.length === 0 ? (
        <p>No signing key registered.</p>
      ) : (
        <ul class="plain">
          {keys.data.keys.map((k) => (
            <li>
              <strong>{k.name}</strong> {k.alg} <code>{k.thumbprint}</code> <StatusBadge status={k.status} />{" "}
              <small>{fmtDate(k.createdAt)}</small>
              {admin && k.status === "active" && (
                <button
                  type="button"
                  class="small danger"
                  onClick={async () => {
                    try {
                      await api("POST", `${base}/${k.id}/revoke`);
                      keys.reload();
                    } catch (err) {
                      setError(asApiError(err));
                    }
                  }}
                >
                  Revoke {k.name}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {admin && (
        <form
          class="card"
          aria-label="Register a signing key"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const el = e.target as HTMLFormElement;
            const form = new FormData(el);
            let jwk: unknown;
            try {
              jwk = JSON.parse(formValue(form, "jwk"));
            } catch {
              setError(
                asApiError(new Error('the public key must be a JSON Web Key, such as {"kty":"OKP",...}')),
              );
              return;
            }
            try {
              await api("POST", base, { name: formValue(form, "name"), jwk });
              setError(undefined);
              el.reset();
              keys.reload();
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <h2>Register a public key</h2>
          <Field name="name" label="Name" required error={error} />
          <Field
            name="jwk"
            label="Public key (JWK)"
            multiline
            required
            error={error}
            placeholder='{"kty":"OKP","crv":"Ed25519","x":"…"}'
          />
          <ErrorNote error={error} fields={["name", "jwk"]} />
          <button type="submit" class="primary">
            Register key
          </button>
        </form>
      )}
    </section>
  );
}

export function TokensPage() {
  const tokens = useLoad(() => api<{ tokens: ApiToken[] }>("GET", "/v1/auth/tokens"), []);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  return (
    <section>
      <h1>API tokens</h1>
      <p class="hint">For the CLI and CI: a token acts as you, limited to its scopes.</p>
      {created && (
        <div class="notice ok" role="status">
          <p>
            Token <strong>{created.name}</strong> created. Copy it now: it is shown only once.
          </p>
          <code id="new-token" class="secret">
            {created.token}
          </code>{" "}
          <CopyButton text={created.token} label="Copy token" />
        </div>
      )}
      <form
        class="card"
        aria-label="Create an API token"
        onSubmit={async (e: Event) => {
          e.preventDefault();
          const el = e.target as HTMLFormElement;
          const form = new FormData(el);
          try {
            const t = await api<ApiToken & { token: string }>("POST", "/v1/auth/tokens", {
              name: formValue(form, "name"),
              expiresInDays: Number(formValue(form, "expiresInDays") || 90),
              scopes: ["read", "write", "publish", "admin"].filter((s) => form.get(`scope.${s}`) === "on"),
            });
            setCreated({ name: t.name, token: t.token });
            setError(undefined);
            el.reset();
            tokens.reload();
          } catch (err) {
            setError(asApiError(err));
          }
        }}
      >
        <Field name="name" label="Name" required error={error} />
        <Field
          name="expiresInDays"
          label="Expires in (days)"
          type="number"
          value="90"
          min="1"
          error={error}
        />
        <fieldset aria-describedby="scopes-err">
          <legend>Scopes</legend>
          <div class="checks">
            {["read", "write", "publish", "admin"].map((s) => (
              <label>
                <input type="checkbox" name={`scope.${s}`} checked={s === "read"} /> {s}
              </label>
            ))}
          </div>
          {error?.issues.some((i) => i.path.startsWith("scopes")) && (
            <p id="scopes-err" class="field-error" role="alert">
              {error.issues
                .filter((i) => i.path.startsWith("scopes"))
                .map((i) => i.message)
                .join("; ")}
            </p>
          )}
        </fieldset>
        <ErrorNote error={error} fields={["name", "expiresInDays", "scopes"]} />
        <button type="submit" class="primary">
          Create token
        </button>
      </form>
      {!tokens.data ? (
        <Loading error={tokens.error} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((t) => (
                <tr>
                  <td>{t.name}</td>
                  <td>{t.scopes.join(", ")}</td>
                  <td>{fmtDate(t.createdAt)}</td>
                  <td>{fmtDate(t.expiresAt)}</td>
                  <td>{fmtDate(t.lastUsedAt)}</td>
                  <td>
                    {t.revokedAt ? (
                      <StatusBadge status="revoked" />
                    ) : (
                      <button
                        type="button"
                        class="small danger"
                        onClick={async () => {
                          try {
                            await api("DELETE", `/v1/auth/tokens/${t.id}`);
                            tokens.reload();
                          } catch (err) {
                            setError(asApiError(err));
                          }
                        }}
                      >
                        Revoke {t.name}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function ChangeLogPage(props: { me: Me; teamId: string }) {
  // A platform admin may read everything; everyone else reads one of their teams.
  const teamId = props.teamId || (props.me.isPlatformAdmin ? "" : (props.me.teams[0]?.id ?? ""));
  const [before, setBefore] = useState<number | undefined>(undefined);
  const log = useLoad(() => {
    const q = new URLSearchParams({ limit: "50" });
    if (teamId) q.set("teamId", teamId);
    if (before) q.set("before", String(before));
    return api<{ entries: ChangeLogEntry[] }>("GET", `/v1/change-log?${q}`);
  }, [teamId, before]);
  const entries = log.data?.entries ?? [];
  return (
    <section>
      <h1>Change log</h1>
      <p class="hint">
        Who changed what, when
        {teamId ? ` in ${props.me.teams.find((t) => t.id === teamId)?.name ?? teamId}` : ""}.
      </p>
      {!log.data ? (
        <Loading error={log.error} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr>
                  <td>{fmtDate(e.at)}</td>
                  <td>{e.actorId}</td>
                  <td>{e.action}</td>
                  <td>
                    {e.targetType} <code>{e.targetId}</code>
                  </td>
                  <td>
                    <code class="detail">{JSON.stringify(e.detail)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {entries.length === 50 && (
        <button type="button" onClick={() => setBefore(entries[entries.length - 1]?.at)}>
          Older entries
        </button>
      )}
      {before && (
        <button type="button" onClick={() => setBefore(undefined)}>
          Newest entries
        </button>
      )}
      {log.error && <Notice kind="info">Pick a team in the team switcher to read its change log.</Notice>}
    </section>
  );
}
