/**
 * The Switches tab (PRODUCT.md D5; mPaaS "switch configuration") and the runtime-config preview:
 * typed key/value switches for every user, one host app or one grayscale task's admitted users,
 * and what a client of a host app (optionally admitted to a task) gets from `GET /v1/config`.
 * API: control-plane/src/routes/switches.ts.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { AppContext } from "../pages";
import { canWrite } from "../session";
import type { MiniProgram, Task } from "../types";
import { asApiError, ErrorNote, Field, fmtDate, formValue, Loading, Notice, useLoad } from "../ui";

type SwitchType = "string" | "number" | "boolean" | "json";
interface Switch {
  key: string;
  type: SwitchType;
  value: unknown;
  hostAppId: string | null;
  taskId: string | null;
  updatedBy: string;
  updatedAt: number;
}
interface Resolved {
  configRevision: number;
  revision: number;
  domains: Record<string, string[]>;
  skipDomainCheck: boolean;
  apis: string[];
  privacy: { version: number; sha256: string; url: string } | null;
  trialPagePath: string | null;
  switches: Record<string, { type: SwitchType; value: unknown }>;
  taskId?: string;
}

/** The typed value from the form's text: the API checks it against the type and says why not. */
function parseValue(type: SwitchType, text: string): unknown {
  if (type === "number") return text === "" ? "" : Number(text);
  if (type === "boolean") return text === "true";
  if (type === "json") {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error("the value is not JSON");
    }
  }
  return text;
}
const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

export function SwitchesPage(props: AppContext) {
  const { me, mp, appId } = props;
  const base = `/v1/mini-programs/${appId}/switches`;
  const list = useLoad(() => api<{ switches: Switch[]; limit: number }>("GET", base), [appId]);
  const tasks = useLoad(
    () => api<{ tasks: Task[] }>("GET", `/v1/mini-programs/${appId}/grayscale-tasks`),
    [appId],
  );
  // The bindings as they are now (the tab's mini program may have been loaded before an approval).
  const fresh = useLoad(() => api<MiniProgram>("GET", `/v1/mini-programs/${appId}`), [appId]);
  const writable = canWrite(me, mp.teamId);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const [type, setType] = useState<SwitchType>("boolean");
  const liveTasks = (tasks.data?.tasks ?? []).filter((t) => t.state !== "ended");
  const hostApps = (fresh.data ?? mp).bindings.filter((b) => b.status === "approved");
  const scope = (s: Switch) =>
    [
      s.hostAppId ? (hostApps.find((h) => h.hostAppId === s.hostAppId)?.hostAppName ?? s.hostAppId) : "",
      s.taskId ? `task ${tasks.data?.tasks.find((t) => t.id === s.taskId)?.name ?? s.taskId}` : "",
    ]
      .filter(Boolean)
      .join(", ") || "everyone";
  return (
    <section>
      <h2>Switches</h2>
      <p class="hint">
        Key/value settings clients read with <code>client.switch(key)</code>, signed in the runtime config. A
        row for a host app or a grayscale task (its admitted users only) wins over the base row: task and host
        app, task, host app, everyone. Changes reach the edge in seconds.
      </p>
      {notice && <Notice>{notice}</Notice>}
      {!list.data ? (
        <Loading error={list.error} />
      ) : list.data.switches.length === 0 ? (
        <p>No switch yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Type</th>
                <th scope="col">Value</th>
                <th scope="col">For</th>
                <th scope="col">Changed</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.switches.map((s) => (
                <tr>
                  <td>
                    <code>{s.key}</code>
                  </td>
                  <td>{s.type}</td>
                  <td>
                    <code>{show(s.value)}</code>
                  </td>
                  <td>{scope(s)}</td>
                  <td>{fmtDate(s.updatedAt)}</td>
                  <td>
                    {writable && (
                      <button
                        type="button"
                        class="small danger"
                        onClick={async () => {
                          const q = new URLSearchParams();
                          if (s.hostAppId) q.set("hostAppId", s.hostAppId);
                          if (s.taskId) q.set("taskId", s.taskId);
                          try {
                            await api(
                              "DELETE",
                              `${base}/${encodeURIComponent(s.key)}${q.size ? `?${q}` : ""}`,
                            );
                            setNotice(`${s.key} (${scope(s)}) deleted.`);
                            list.reload();
                          } catch (err) {
                            setError(asApiError(err));
                          }
                        }}
                      >
                        Delete {s.key} for {scope(s)}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {writable && (
        <form
          class="card"
          aria-label="Set a switch"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            const key = formValue(form, "key");
            let value: unknown;
            try {
              value = parseValue(
                type,
                type === "boolean" ? formValue(form, "bool") : formValue(form, "value"),
              );
            } catch (err) {
              setError(asApiError(err));
              return;
            }
            const hostAppId = formValue(form, "hostAppId");
            const taskId = formValue(form, "taskId");
            try {
              const s = await api<Switch>("PUT", `${base}/${encodeURIComponent(key)}`, {
                type,
                value,
                ...(hostAppId ? { hostAppId } : {}),
                ...(taskId ? { taskId } : {}),
              });
              setError(undefined);
              setNotice(`${s.key} = ${show(s.value)} for ${scope(s)}.`);
              list.reload();
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <h3>Set a switch</h3>
          <Field name="key" label="Key" required placeholder="checkout.newFlow" error={error} />
          <div class="field">
            <label for="f-type">Type</label>
            <select
              id="f-type"
              name="type"
              onChange={(e: Event) => setType((e.target as HTMLSelectElement).value as SwitchType)}
            >
              {(["boolean", "string", "number", "json"] as const).map((t) => (
                <option value={t} selected={t === type}>
                  {t}
                </option>
              ))}
            </select>
          </div>
          {type === "boolean" ? (
            <div class="field">
              <label for="f-bool">Value</label>
              <select id="f-bool" name="bool">
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            </div>
          ) : (
            <Field
              name="value"
              label="Value"
              multiline={type === "json"}
              type={type === "number" ? "number" : "text"}
              step={type === "number" ? "any" : undefined}
              error={error}
            />
          )}
          <div class="field">
            <label for="f-hostAppId">Host app</label>
            <select id="f-hostAppId" name="hostAppId">
              <option value="">every host app</option>
              {hostApps.map((h) => (
                <option value={h.hostAppId}>{h.hostAppName}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-taskId">Grayscale task</label>
            <select id="f-taskId" name="taskId" aria-describedby="f-taskId-hint">
              <option value="">every user</option>
              {liveTasks.map((t) => (
                <option value={t.id}>
                  {t.name} ({t.version}, {t.state})
                </option>
              ))}
            </select>
            <small id="f-taskId-hint" class="hint">
              only the users the task admitted get this row
            </small>
          </div>
          <ErrorNote error={error} fields={["key", "value"]} />
          <button type="submit" class="primary">
            Save switch
          </button>
        </form>
      )}
      <ConfigPreview appId={appId} hostApps={hostApps} tasks={liveTasks} />
    </section>
  );
}

function ConfigPreview(props: {
  appId: string;
  hostApps: { hostAppId: string; hostAppName: string }[];
  tasks: Task[];
}) {
  const [result, setResult] = useState<Resolved | null>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  return (
    <form
      class="card"
      aria-label="Runtime config preview"
      onSubmit={async (e: Event) => {
        e.preventDefault();
        const form = new FormData(e.target as HTMLFormElement);
        const q = new URLSearchParams({ hostAppId: formValue(form, "hostAppId") });
        const taskId = formValue(form, "taskId");
        if (taskId) q.set("taskId", taskId);
        try {
          setResult(await api<Resolved>("GET", `/v1/mini-programs/${props.appId}/runtime-config?${q}`));
          setError(undefined);
        } catch (err) {
          setError(asApiError(err));
          setResult(null);
        }
      }}
    >
      <h3 id="preview">Runtime config preview</h3>
      <p class="hint">
        What the edge signs for a client of this host app (<code>GET /v1/config</code>): domains, the
        skip-domain flag, granted APIs, the privacy version, the trial path and the switches.
      </p>
      {props.hostApps.length === 0 ? (
        <p>Bind the mini program to a host app first: the runtime config is per host app.</p>
      ) : (
        <>
          <div class="field">
            <label for="p-hostAppId">Client of host app</label>
            <select id="p-hostAppId" name="hostAppId">
              {props.hostApps.map((h) => (
                <option value={h.hostAppId}>{h.hostAppName}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="p-taskId">Admitted to task</label>
            <select id="p-taskId" name="taskId">
              <option value="">no task</option>
              {props.tasks.map((t) => (
                <option value={t.id}>{t.name}</option>
              ))}
            </select>
          </div>
          <button type="submit">Show runtime config</button>
        </>
      )}
      <ErrorNote error={error} />
      {result && <pre id="runtime-config">{JSON.stringify(result, null, 2)}</pre>}
    </form>
  );
}
