/**
 * Sensitive API permissions (PRODUCT.md X3) and skip-domain-verification applications (X2), both
 * faces: the mini program's Permissions tab (the developer applies per host app with a reason) and
 * the host app's page (declare sensitive APIs; approve, reject or revoke with a reason).
 * API: control-plane/src/routes/applications.ts.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { AppContext } from "../pages";
import { canWrite } from "../session";
import type { Me, MiniProgram } from "../types";
import {
  asApiError,
  ErrorNote,
  Field,
  fmtDate,
  formValue,
  Loading,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";

interface Application {
  id: string;
  appId: string;
  hostAppId: string;
  apiName?: string;
  status: "pending" | "approved" | "rejected" | "revoked";
  reason: string;
  appliedBy: string;
  appliedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionReason: string | null;
}
interface SensitiveApi {
  hostAppId: string;
  name: string;
  description: string;
  createdAt: number;
}

function ApplicationRows(props: {
  apps: Application[];
  hostName: (id: string) => string;
  /** the host app side names the applying mini program */
  showApp?: boolean;
  decide?: (a: Application) => unknown;
}) {
  if (props.apps.length === 0) return <p class="muted">None.</p>;
  return (
    <ul class="plain">
      {props.apps.map((a) => (
        <li>
          {a.apiName && <code>{a.apiName}</code>}{" "}
          {props.showApp ? <code>{a.appId}</code> : props.hostName(a.hostAppId)}{" "}
          <StatusBadge status={a.status} />{" "}
          <small>
            applied {fmtDate(a.appliedAt)}: “{a.reason}”
            {a.decidedAt ? ` · decided ${fmtDate(a.decidedAt)}` : ""}
            {a.decisionReason ? `: “${a.decisionReason}”` : ""}
          </small>
          {props.decide?.(a)}
        </li>
      ))}
    </ul>
  );
}

export function PermissionsPage(props: AppContext) {
  const { me, mp, appId } = props;
  const base = `/v1/mini-programs/${appId}`;
  const fresh = useLoad(() => api<MiniProgram>("GET", base), [appId]);
  const apiApps = useLoad(
    () => api<{ applications: Application[] }>("GET", `${base}/api-applications`),
    [appId],
  );
  const skipApps = useLoad(
    () => api<{ applications: Application[] }>("GET", `${base}/skip-domain-applications`),
    [appId],
  );
  const hostApps = (fresh.data ?? mp).bindings.filter((b) => b.status === "approved");
  const hostName = (id: string) => hostApps.find((h) => h.hostAppId === id)?.hostAppName ?? id;
  const [host, setHost] = useState("");
  const hostId = host || hostApps[0]?.hostAppId || "";
  const declared = useLoad(
    () =>
      hostId
        ? api<{ apis: SensitiveApi[] }>("GET", `/v1/host-apps/${hostId}/sensitive-apis`)
        : Promise.resolve({ apis: [] }),
    [hostId],
  );
  const writable = canWrite(me, mp.teamId);
  const [apiError, setApiError] = useState<ApiError | undefined>(undefined);
  const [skipError, setSkipError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const hostSelect = (id: string) => (
    <div class="field">
      <label for={id}>Host app</label>
      <select
        id={id}
        name="hostAppId"
        onChange={(e: Event) => setHost((e.target as HTMLSelectElement).value)}
      >
        {hostApps.map((h) => (
          <option value={h.hostAppId} selected={h.hostAppId === hostId}>
            {h.hostAppName}
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <section>
      <h2>Sensitive API permissions</h2>
      <p class="hint">
        A host app declares the sensitive APIs mini programs must apply for; its manager or auditor decides.
        Granted APIs reach clients in the runtime config (<code>client.isApiAllowed(name)</code>).
      </p>
      {notice && <Notice>{notice}</Notice>}
      {!apiApps.data ? (
        <Loading error={apiApps.error} />
      ) : (
        <ApplicationRows apps={apiApps.data.applications} hostName={hostName} />
      )}
      {writable && hostApps.length > 0 && (
        <form
          class="card"
          aria-label="Apply for a sensitive API"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              const a = await api<Application>("POST", `${base}/api-applications`, {
                hostAppId: hostId,
                apiName: formValue(form, "apiName"),
                reason: formValue(form, "reason"),
              });
              setApiError(undefined);
              setNotice(`Applied for ${a.apiName} in ${hostName(a.hostAppId)}: the host app decides.`);
              apiApps.reload();
            } catch (err) {
              setApiError(asApiError(err));
            }
          }}
        >
          <h3>Apply for an API</h3>
          {hostSelect("api-host")}
          <div class="field">
            <label for="f-apiName">API</label>
            <select id="f-apiName" name="apiName">
              {(declared.data?.apis ?? []).map((a) => (
                <option value={a.name}>
                  {a.name}: {a.description}
                </option>
              ))}
            </select>
            {declared.data?.apis.length === 0 && (
              <small class="hint">This host app declared no sensitive API.</small>
            )}
          </div>
          <Field id="api-reason" name="reason" label="Reason" multiline required error={apiError} />
          <ErrorNote error={apiError} fields={["reason"]} />
          <button type="submit" class="primary">
            Apply for the API
          </button>
        </form>
      )}
      <h2>Skip domain verification</h2>
      <p class="hint">
        For development with domains not yet configured: the host app's manager may let this mini program skip
        the domain check in that host app.
      </p>
      {!skipApps.data ? (
        <Loading error={skipApps.error} />
      ) : (
        <ApplicationRows apps={skipApps.data.applications} hostName={hostName} />
      )}
      {writable && hostApps.length > 0 && (
        <form
          class="card"
          aria-label="Apply to skip domain verification"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              const a = await api<Application>("POST", `${base}/skip-domain-applications`, {
                hostAppId: formValue(form, "hostAppId"),
                reason: formValue(form, "reason"),
              });
              setSkipError(undefined);
              setNotice(`Applied to skip domain verification in ${hostName(a.hostAppId)}.`);
              skipApps.reload();
            } catch (err) {
              setSkipError(asApiError(err));
            }
          }}
        >
          {hostSelect("skip-host")}
          <Field id="skip-reason" name="reason" label="Reason" multiline required error={skipError} />
          <ErrorNote error={skipError} fields={["reason"]} />
          <button type="submit">Apply to skip verification</button>
        </form>
      )}
      {hostApps.length === 0 && <p>Bind the mini program to a host app first.</p>}
    </section>
  );
}

function Decide(p: { a: Application; kind: "api" | "skip"; base: string; onDone: (notice: string) => void }) {
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const decisions =
    p.a.status === "pending"
      ? (["approve", "reject"] as const)
      : p.a.status === "approved" && p.kind === "api"
        ? (["revoke"] as const)
        : [];
  if (decisions.length === 0) return null;
  const path = p.kind === "api" ? "api-applications" : "skip-domain-applications";
  const label = `${p.a.apiName ?? "skip domain verification"} for ${p.a.appId}`;
  return (
    <form class="inline" aria-label={`Decide ${label}`} onSubmit={(e: Event) => e.preventDefault()}>
      <Field
        id={`reason-${p.a.id}`}
        name="reason"
        label="Reason (required to reject or revoke)"
        error={error}
      />
      {decisions.map((d) => (
        <button
          type="button"
          class={d === "approve" ? "primary small" : "danger small"}
          onClick={async (e: Event) => {
            const form = (e.target as HTMLElement).closest("form")!;
            const reason = formValue(new FormData(form), "reason");
            try {
              await api("POST", `${p.base}/${path}/${p.a.id}/${d}`, reason ? { reason } : {});
              setError(undefined);
              p.onDone(
                `${label}: ${d === "approve" ? "approved" : d === "reject" ? "rejected" : "revoked"}.`,
              );
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          {d === "approve" ? "Approve" : d === "reject" ? "Reject" : "Revoke"}
        </button>
      ))}
      <ErrorNote error={error} fields={["reason"]} />
    </form>
  );
}

/** The host app side: declared APIs and the applications to decide. */
export function HostAppPermissionsPage(props: { me: Me; hostAppId: string }) {
  const { me, hostAppId } = props;
  const base = `/v1/host-apps/${hostAppId}`;
  const apis = useLoad(() => api<{ apis: SensitiveApi[] }>("GET", `${base}/sensitive-apis`), [hostAppId]);
  const apiApps = useLoad(
    () => api<{ applications: Application[] }>("GET", `${base}/api-applications`),
    [hostAppId],
  );
  const skipApps = useLoad(
    () => api<{ applications: Application[] }>("GET", `${base}/skip-domain-applications`),
    [hostAppId],
  );
  const mine = me.hostApps.find((h) => h.id === hostAppId);
  const canManage = me.isPlatformAdmin || mine?.role === "manager";
  // Seed: the host app's manager or auditor decides API applications; skip-domain ones, its manager.
  const canDecideApi = canManage || mine?.role === "auditor";
  const [declareError, setDeclareError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");

  return (
    <section>
      <p class="crumbs">
        <a href="#/host-apps">Host apps</a> /
      </p>
      <h1>Permissions of {mine?.name ?? hostAppId}</h1>
      {notice && <Notice>{notice}</Notice>}
      <h2>Sensitive APIs</h2>
      {!apis.data ? (
        <Loading error={apis.error} />
      ) : apis.data.apis.length === 0 ? (
        <p>None declared.</p>
      ) : (
        <ul class="plain">
          {apis.data.apis.map((a) => (
            <li>
              <code>{a.name}</code> {a.description} <small>{fmtDate(a.createdAt)}</small>
            </li>
          ))}
        </ul>
      )}
      {canManage && (
        <form
          class="card"
          aria-label="Declare a sensitive API"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const el = e.target as HTMLFormElement;
            const form = new FormData(el);
            try {
              const a = await api<SensitiveApi>("POST", `${base}/sensitive-apis`, {
                name: formValue(form, "name"),
                description: formValue(form, "description"),
              });
              setDeclareError(undefined);
              setNotice(`${a.name} declared: mini programs must apply for it.`);
              el.reset();
              apis.reload();
            } catch (err) {
              setDeclareError(asApiError(err));
            }
          }}
        >
          <Field
            id="api-name"
            name="name"
            label="API name"
            placeholder="getLocation"
            required
            error={declareError}
          />
          <Field id="api-description" name="description" label="What it does" required error={declareError} />
          <ErrorNote error={declareError} fields={["name", "description"]} />
          <button type="submit">Declare API</button>
        </form>
      )}
      <h2>API applications</h2>
      {!apiApps.data ? (
        <Loading error={apiApps.error} />
      ) : (
        <ApplicationRows
          apps={apiApps.data.applications}
          hostName={() => ""}
          showApp
          decide={(a) =>
            canDecideApi ? (
              <Decide
                a={a}
                kind="api"
                base={base}
                onDone={(n) => {
                  setNotice(n);
                  apiApps.reload();
                }}
              />
            ) : null
          }
        />
      )}
      <h2>Skip-domain-verification applications</h2>
      {!skipApps.data ? (
        <Loading error={skipApps.error} />
      ) : (
        <ApplicationRows
          apps={skipApps.data.applications}
          hostName={() => ""}
          showApp
          decide={(a) =>
            canManage ? (
              <Decide
                a={a}
                kind="skip"
                base={base}
                onDone={(n) => {
                  setNotice(n);
                  skipApps.reload();
                }}
              />
            ) : null
          }
        />
      )}
    </section>
  );
}
