/**
 * The host app side (PRODUCT.md M1, M3, V2): bindings to approve (managers), audits to decide
 * with a reason (auditors), and the host app's members.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import { appIdOf } from "../app-id";
import type { HostApp, Me } from "../types";
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

interface BindingRequest {
  appId: string;
  name: string;
  status: string;
  createdAt: number;
  decidedAt: number | null;
}
interface QueueItem {
  id: string;
  kind: "version" | "binding";
  appId: string;
  miniProgramName: string;
  version: string;
  hostAppId: string;
  hostAppName: string;
  note: string;
  submittedAt: number;
}
interface Member {
  userId: string;
  email: string;
  name: string;
  role: string;
}

export function HostAppsPage(props: { me: Me }) {
  const { me } = props;
  const all = useLoad(() => api<{ hostApps: HostApp[] }>("GET", "/v1/host-apps"), []);
  const queue = useLoad(() => api<{ audits: QueueItem[] }>("GET", "/v1/audits"), []);
  const mine = me.isPlatformAdmin
    ? (all.data?.hostApps ?? []).map((h) => ({ id: h.id, name: h.name, role: "platform admin" }))
    : me.hostApps;
  return (
    <section>
      <h1>Host apps</h1>
      {mine.length === 0 && <p>You manage or audit no host app.</p>}
      <h2>Audits waiting for you</h2>
      {!queue.data ? (
        <Loading error={queue.error} />
      ) : queue.data.audits.length === 0 ? (
        <p>No audit is waiting.</p>
      ) : (
        queue.data.audits.map((a) => <AuditItem item={a} />)
      )}
      {mine.map((h) => (
        <HostAppBlock hostApp={h} />
      ))}
    </section>
  );
}

function AuditItem(props: { item: QueueItem }) {
  const a = props.item;
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [done, setDone] = useState("");
  const decide = async (form: HTMLFormElement, decision: "approve" | "reject") => {
    const reason = formValue(new FormData(form), "reason");
    try {
      await api("POST", `/v1/audits/${a.id}/decision`, {
        hostAppId: a.hostAppId,
        decision,
        ...(reason ? { reason } : {}),
      });
      setError(undefined);
      // The item stays with its outcome until the page is reloaded, so the decision can be read.
      setDone(decision === "approve" ? "Approved." : "Rejected.");
    } catch (err) {
      setError(asApiError(err));
    }
  };
  return (
    <form
      class="card"
      aria-label={`Audit of ${a.miniProgramName} ${a.version}`}
      onSubmit={(e: Event) => e.preventDefault()}
    >
      <h3>
        {a.miniProgramName} <span class="version">{a.version}</span> <StatusBadge status={a.kind} />
      </h3>
      <p>
        For {a.hostAppName} · <code>{appIdOf(a)}</code> · submitted {fmtDate(a.submittedAt)}
      </p>
      {a.note && <blockquote>{a.note}</blockquote>}
      <Field
        id={`reason-${a.id}`}
        name="reason"
        label="Reason (required to reject)"
        multiline
        error={error}
      />
      <ErrorNote error={error} fields={["reason"]} />
      {done && <Notice>{done}</Notice>}
      {!done && (
        <div class="actions">
          <button
            type="button"
            class="primary"
            onClick={(e: Event) => decide((e.target as HTMLElement).closest("form")!, "approve")}
          >
            Approve
          </button>
          <button
            type="button"
            class="danger"
            onClick={(e: Event) => decide((e.target as HTMLElement).closest("form")!, "reject")}
          >
            Reject
          </button>
        </div>
      )}
    </form>
  );
}

function HostAppBlock(props: { hostApp: { id: string; name: string; role: string } }) {
  const h = props.hostApp;
  const base = `/v1/host-apps/${h.id}`;
  const bindings = useLoad(() => api<{ bindings: BindingRequest[] }>("GET", `${base}/bindings`), [h.id]);
  const members = useLoad(() => api<{ members: Member[] }>("GET", `${base}/members`), [h.id]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [memberError, setMemberError] = useState<ApiError | undefined>(undefined);
  const canManage = h.role === "manager" || h.role === "platform admin";
  return (
    <article class="block" aria-labelledby={`ha-${h.id}`}>
      <h2 id={`ha-${h.id}`}>
        {h.name} <small>({h.role})</small>
      </h2>
      <p>
        <a href={`#/host-apps/${h.id}/permissions`}>Sensitive APIs and applications</a> ·{" "}
        <a href={`#/host-apps/${h.id}/keys`}>User-assertion keys</a>{" "}
        <small class="hint">the keys that verify the users your server signs in (docs/trust.md)</small>·{" "}
        <a href={`#/host-apps/${h.id}/messages`}>Message push webhook</a>
      </p>
      <h3>Binding requests</h3>
      <ErrorNote error={error} />
      {!bindings.data ? (
        <Loading error={bindings.error} />
      ) : bindings.data.bindings.length === 0 ? (
        <p>No mini program asked to bind.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Mini program</th>
                <th scope="col">Status</th>
                <th scope="col">Requested</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {bindings.data.bindings.map((b) => (
                <tr>
                  <td>
                    {b.name} <code>{appIdOf(b)}</code>
                  </td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td>{fmtDate(b.createdAt)}</td>
                  <td>
                    {canManage &&
                      b.status === "pending" &&
                      (["approve", "reject"] as const).map((d) => (
                        <button
                          type="button"
                          class={d === "approve" ? "primary small" : "small"}
                          onClick={async () => {
                            try {
                              await api("POST", `${base}/bindings/${appIdOf(b)}/${d}`);
                              setError(undefined);
                              bindings.reload();
                            } catch (err) {
                              setError(asApiError(err));
                            }
                          }}
                        >
                          {d === "approve" ? `Approve ${b.name}` : `Reject ${b.name}`}
                        </button>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Members</h3>
      {!members.data ? (
        <Loading error={members.error} />
      ) : (
        <ul class="plain">
          {members.data.members.map((m) => (
            <li>
              {m.name} &lt;{m.email}&gt; <StatusBadge status={m.role} />
            </li>
          ))}
        </ul>
      )}
      {canManage && (
        <form
          class="inline"
          aria-label={`Add a member to ${h.name}`}
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              await api("POST", `${base}/members`, {
                email: formValue(form, "email"),
                role: formValue(form, "role"),
              });
              setMemberError(undefined);
              members.reload();
            } catch (err) {
              setMemberError(asApiError(err));
            }
          }}
        >
          <Field
            id={`member-email-${h.id}`}
            name="email"
            label="Email"
            type="email"
            required
            error={memberError}
          />
          <div class="field">
            <label for={`member-role-${h.id}`}>Role</label>
            <select id={`member-role-${h.id}`} name="role">
              <option value="auditor">auditor</option>
              <option value="manager">manager</option>
            </select>
          </div>
          <button type="submit">Add member</button>
          <ErrorNote error={memberError} fields={["email"]} />
        </form>
      )}
    </article>
  );
}
