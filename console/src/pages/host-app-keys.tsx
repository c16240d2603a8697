/**
 * A host app's user-assertion keys (issue 10, docs/trust.md): the public Ed25519 keys that verify
 * the user assertions its server mints. Managers (and platform admins) register, retire (rotation
 * with overlap) and revoke (a leaked key, at once); auditors read the list.
 * API: control-plane/src/routes/host-app-keys.ts.
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
  StatusBadge,
  useLoad,
} from "../ui";

interface HostAppKey {
  id: string;
  name: string;
  alg: "EdDSA";
  publicJwk: { kty: "OKP"; crv: "Ed25519"; x: string };
  thumbprint: string;
  status: "active" | "retired" | "revoked";
  createdBy: string;
  createdAt: number;
  retiredAt: number | null;
  revokedAt: number | null;
  verifiesUntil: number | null;
}

const KEYGEN = `node -e 'const {generateKeyPairSync}=require("node:crypto");console.log(JSON.stringify(generateKeyPairSync("ed25519").privateKey.export({format:"jwk"})))' > host-key.json
node -pe 'const k=require("./host-key.json");JSON.stringify({kty:k.kty,crv:k.crv,x:k.x})'`;

export function HostAppKeysPage(props: { me: Me; hostAppId: string }) {
  const { me, hostAppId } = props;
  const base = `/v1/host-apps/${hostAppId}/keys`;
  const keys = useLoad(() => api<{ keys: HostAppKey[] }>("GET", base), [hostAppId]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [actionError, setActionError] = useState<ApiError | undefined>(undefined);
  const [ask, setAsk] = useState<{ key: HostAppKey; action: "retire" | "revoke" } | null>(null);
  const [notice, setNotice] = useState("");
  const mine = me.hostApps.find((h) => h.id === hostAppId);
  const canManage = me.isPlatformAdmin || mine?.role === "manager";

  const act = async (key: HostAppKey, action: "retire" | "revoke") => {
    try {
      const k = await api<HostAppKey>("POST", `${base}/${key.id}/${action}`);
      setActionError(undefined);
      setAsk(null);
      setNotice(
        action === "retire"
          ? `${k.name} is retired: assertions it signed verify until ${fmtDate(k.verifiesUntil)}.`
          : `${k.name} is revoked: its assertions stop verifying as soon as the edge has the new snapshots (seconds).`,
      );
      keys.reload();
    } catch (err) {
      setActionError(asApiError(err));
    }
  };

  return (
    <section>
      <p class="crumbs">
        <a href="#/host-apps">Host apps</a> /
      </p>
      <h1>User-assertion keys of {mine?.name ?? hostAppId}</h1>
      <p class="hint">
        Your server signs a short-lived user assertion (an EdDSA JWS, <code>kid</code> = the key id below) for
        each signed-in user; the edge verifies it with these public keys, which reach it with the snapshots of
        your bound mini programs. Trial versions, account targets, verified-only grayscale tasks and login (
        <code>POST /v1/login</code>) need a verified user. The private key never leaves your server. See
        docs/trust.md.
      </p>
      {notice && <Notice>{notice}</Notice>}
      {!ask && <ErrorNote error={actionError} />}
      {!keys.data ? (
        <Loading error={keys.error} />
      ) : keys.data.keys.length === 0 ? (
        <p>No key registered: no assertion of this host app verifies yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key id (kid)</th>
                <th scope="col">Status</th>
                <th scope="col">Registered</th>
                <th scope="col">Verifies until</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((k) => (
                <tr>
                  <td>
                    {k.name}
                    <br />
                    <small class="hint" title="RFC 7638 thumbprint">
                      {k.thumbprint}
                    </small>
                  </td>
                  <td>
                    <code>{k.id}</code> <CopyButton text={k.id} label="Copy kid" />
                  </td>
                  <td>
                    <StatusBadge status={k.status} />
                  </td>
                  <td>
                    {fmtDate(k.createdAt)} <small>by {k.createdBy === me.id ? "you" : k.createdBy}</small>
                  </td>
                  <td>{k.status === "active" ? "while active" : fmtDate(k.verifiesUntil)}</td>
                  <td>
                    {canManage && k.status === "active" && (
                      <button
                        type="button"
                        class="small"
                        onClick={() => setAsk({ key: k, action: "retire" })}
                      >
                        Retire {k.name}
                      </button>
                    )}{" "}
                    {canManage && k.status !== "revoked" && (
                      <button
                        type="button"
                        class="small danger"
                        onClick={() => setAsk({ key: k, action: "revoke" })}
                      >
                        Revoke {k.name}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {ask?.action === "retire" && (
        <Confirm
          title={`Retire ${ask.key.name}?`}
          confirmLabel="Retire"
          onConfirm={() => act(ask.key, "retire")}
          onCancel={() => setAsk(null)}
        >
          <p>
            Rotation: mint new assertions with another key first. Assertions already signed with this key keep
            verifying for an hour and a minute (the longest one can live), then the edge refuses them.
          </p>
          <ErrorNote error={actionError} />
        </Confirm>
      )}
      {ask?.action === "revoke" && (
        <Confirm
          title={`Revoke ${ask.key.name}?`}
          confirmLabel="Revoke"
          danger
          onConfirm={() => act(ask.key, "revoke")}
          onCancel={() => setAsk(null)}
        >
          <p>
            For a leaked key: every assertion signed with it stops verifying <strong>at once</strong> (within
            seconds at the edge). Users whose assertions it signed are unverified until your server mints new
            ones with another key. A revoked key cannot be registered again.
          </p>
          <ErrorNote error={actionError} />
        </Confirm>
      )}
      {canManage ? (
        <form
          class="card"
          aria-label="Register a user-assertion key"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const el = e.target as HTMLFormElement;
            const form = new FormData(el);
            let jwk: unknown;
            try {
              jwk = JSON.parse(formValue(form, "jwk"));
            } catch {
              setError(
                asApiError(
                  new Error(
                    'the public key must be a JSON Web Key, such as {"kty":"OKP","crv":"Ed25519","x":"…"}',
                  ),
                ),
              );
              return;
            }
            try {
              const k = await api<HostAppKey>("POST", base, { name: formValue(form, "name"), jwk });
              setError(undefined);
              setNotice(`${k.name} registered: sign assertions with kid ${k.id}.`);
              el.reset();
              keys.reload();
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <h2>Register a public key</h2>
          <p class="hint">
            Make an Ed25519 key pair on your server once and paste the public half (<code>x</code> only, never{" "}
            <code>d</code>):
          </p>
          <pre class="detail">{KEYGEN}</pre>
          <Field
            id="key-name"
            name="name"
            label="Name"
            required
            error={error}
            placeholder="api server 2026"
          />
          <Field
            id="key-jwk"
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
      ) : (
        <Notice kind="info">Only the host app's managers register, retire and revoke keys.</Notice>
      )}
    </section>
  );
}
