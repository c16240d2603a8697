/**
 * The Domains tab (PRODUCT.md X1; seed "Development Management", "Domain name settings"): the
 * request / uploadFile / downloadFile / socket / business domain lists, add and remove, and the
 * verification of business (web-view) domains. API: control-plane/src/routes/domains.ts; the rules
 * (https:// or wss://, no IP, no localhost, no wildcard, no path, at most 200 per kind) are the
 * API's, shown next to the field in its own words.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { AppContext } from "../pages";
import { canWrite } from "../session";
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

const KINDS = [
  { kind: "request", label: "request", scheme: "https://", what: "wx.request / network calls" },
  { kind: "uploadFile", label: "uploadFile", scheme: "https://", what: "file uploads" },
  { kind: "downloadFile", label: "downloadFile", scheme: "https://", what: "file downloads" },
  { kind: "socket", label: "socket", scheme: "wss://", what: "WebSocket connections" },
  { kind: "business", label: "business (web-view)", scheme: "https://", what: "pages opened in a web-view" },
] as const;

interface Domain {
  id: string;
  kind: string;
  domain: string;
  url: string;
  verification?: { state: "pending" | "verified"; token: string; fileUrl: string; verifiedAt: number | null };
  createdBy: string;
  createdAt: number;
}

export function DomainsPage(props: AppContext) {
  const { me, mp, appId } = props;
  const base = `/v1/mini-programs/${appId}/domains`;
  const list = useLoad(
    () => api<{ domains: Record<string, Domain[]>; limitPerKind: number }>("GET", base),
    [appId],
  );
  const writable = canWrite(me, mp.teamId);
  const [notice, setNotice] = useState("");
  const [ask, setAsk] = useState<Domain | null>(null);
  const [removeError, setRemoveError] = useState<ApiError | undefined>(undefined);
  const done = (text: string) => {
    setNotice(text);
    list.reload();
  };
  return (
    <section>
      <h2>Server domains</h2>
      <p class="hint">
        The mini program may reach only these domains (clients check them with the signed runtime config):
        https:// (wss:// for socket), a host name, no IP address, no localhost, no wildcard, no path; at most{" "}
        {list.data?.limitPerKind ?? 200} per kind. A change reaches the edge in seconds.
      </p>
      {notice && <Notice>{notice}</Notice>}
      {!list.data ? (
        <Loading error={list.error} />
      ) : (
        KINDS.map((k) => (
          <KindBlock
            kindDef={k}
            domains={list.data?.domains[k.kind] ?? []}
            base={base}
            writable={writable}
            onChange={done}
            onRemove={(d) => {
              setRemoveError(undefined);
              setAsk(d);
            }}
          />
        ))
      )}
      {ask && (
        <Confirm
          title={`Remove ${ask.url}?`}
          confirmLabel="Remove domain"
          danger
          onConfirm={async () => {
            try {
              await api("DELETE", `${base}/${ask.kind}/${ask.id}`);
              setAsk(null);
              done(`${ask.url} removed from ${ask.kind}.`);
            } catch (err) {
              setRemoveError(asApiError(err));
            }
          }}
          onCancel={() => setAsk(null)}
        >
          <p>Clients stop reaching it as soon as they refresh their runtime config (seconds).</p>
          <ErrorNote error={removeError} />
        </Confirm>
      )}
    </section>
  );
}

function KindBlock(props: {
  kindDef: (typeof KINDS)[number];
  domains: Domain[];
  base: string;
  writable: boolean;
  onChange: (notice: string) => void;
  onRemove: (d: Domain) => void;
}) {
  const k = props.kindDef;
  const [error, setError] = useState<ApiError | undefined>(undefined);
  return (
    <article class="block" aria-labelledby={`kind-${k.kind}`}>
      <h3 id={`kind-${k.kind}`}>
        {k.label} <small class="hint">{k.what}</small>
      </h3>
      {props.domains.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ul class="plain">
          {props.domains.map((d) => (
            <li>
              <code>{d.url}</code>
              {d.verification && (
                <>
                  {" "}
                  <StatusBadge status={d.verification.state === "verified" ? "verified" : "pending"} />
                </>
              )}{" "}
              <small>added {fmtDate(d.createdAt)}</small>{" "}
              {props.writable && (
                <button type="button" class="small danger" onClick={() => props.onRemove(d)}>
                  Remove {d.url}
                </button>
              )}
              {d.verification?.state === "pending" && (
                <Verify domain={d} base={props.base} writable={props.writable} onDone={props.onChange} />
              )}
            </li>
          ))}
        </ul>
      )}
      {props.writable && (
        <form
          class="inline"
          aria-label={`Add a ${k.kind} domain`}
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const el = e.target as HTMLFormElement;
            try {
              const d = await api<Domain>("POST", `${props.base}/${k.kind}`, {
                domain: formValue(new FormData(el), "domain"),
              });
              setError(undefined);
              el.reset();
              props.onChange(
                d.verification
                  ? `${d.url} added: place the verification file, then verify it. It reaches clients once verified.`
                  : `${d.url} added to ${k.kind}.`,
              );
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <Field
            id={`domain-${k.kind}`}
            name="domain"
            label={`New ${k.kind} domain`}
            placeholder={`${k.scheme}api.example.com`}
            required
            error={error}
          />
          <button type="submit">Add {k.kind} domain</button>
          <ErrorNote error={error} fields={["domain"]} />
        </form>
      )}
    </article>
  );
}

function Verify(props: { domain: Domain; base: string; writable: boolean; onDone: (n: string) => void }) {
  const d = props.domain;
  const v = d.verification!;
  const [error, setError] = useState<ApiError | undefined>(undefined);
  return (
    <div class="card">
      <p>
        Place a file at <code>{v.fileUrl}</code> whose content is the token{" "}
        <code id={`token-${d.id}`}>{v.token}</code> <CopyButton text={v.token} label="Copy token" />, then
        verify. Where the platform may fetch it, it checks the file itself; otherwise (local runs) paste the
        file's content as the proof.
      </p>
      {props.writable && (
        <form
          class="inline"
          aria-label={`Verify ${d.url}`}
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const proof = formValue(new FormData(e.target as HTMLFormElement), "proof");
            try {
              const r = await api<Domain & { method: string }>(
                "POST",
                `${props.base}/business/${d.id}/verify`,
                proof ? { proof } : {},
              );
              setError(undefined);
              props.onDone(`${r.url} verified (${r.method === "fetch" ? "file fetched" : "proof checked"}).`);
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <Field
            id={`proof-${d.id}`}
            name="proof"
            label={`Verification file content for ${d.domain} (proof)`}
            error={error}
          />
          <button type="submit">Verify {d.domain}</button>
          <ErrorNote error={error} fields={["proof"]} />
        </form>
      )}
    </div>
  );
}
