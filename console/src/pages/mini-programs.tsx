/**
 * Mini program list and details (seed: "Mini program list": create, filter by team, edit,
 * on-shelf / off-shelf, details with the App ID and the IDE download). PRODUCT.md M2-M4.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import { appIdOf } from "../app-id";
import { navigate } from "../router";
import { canWrite, getTeamFilter, isTeamAdmin } from "../session";
import type { HostApp, Me, MiniProgram, MiniProgramSummary } from "../types";
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

export function MiniProgramList(props: { me: Me; teamId: string }) {
  const { me, teamId } = props;
  const list = useLoad(
    () =>
      api<{ miniPrograms: MiniProgramSummary[] }>(
        "GET",
        `/v1/mini-programs${teamId ? `?teamId=${encodeURIComponent(teamId)}` : ""}`,
      ),
    [teamId],
  );
  const writableTeams = me.teams.filter((t) => canWrite(me, t.id));
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const teamName = (id: string) => me.teams.find((t) => t.id === id)?.name ?? id;
  return (
    <section>
      <div class="head">
        <h1>Mini programs</h1>
        {writableTeams.length > 0 && !creating && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Create mini program
          </button>
        )}
      </div>
      {creating && (
        <form
          class="card"
          aria-label="Create mini program"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              const mp = await api<MiniProgram>("POST", "/v1/mini-programs", {
                teamId: formValue(form, "teamId"),
                name: formValue(form, "name"),
                description: formValue(form, "description"),
              });
              navigate(`/apps/${appIdOf(mp)}`);
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <h2>New mini program</h2>
          <div class="field">
            <label for="f-teamId">Team</label>
            <select id="f-teamId" name="teamId">
              {writableTeams.map((t) => (
                <option value={t.id} selected={t.id === (teamId || getTeamFilter())}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
          <Field name="name" label="Name" required error={error} hint="1 to 60 characters" />
          <Field name="description" label="Description" multiline error={error} />
          <ErrorNote error={error} fields={["teamId", "name", "description"]} />
          <div class="actions">
            <button type="submit" class="primary">
              Create
            </button>
            <button type="button" onClick={() => (setCreating(false), setError(undefined))}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {!list.data ? (
        <Loading error={list.error} />
      ) : list.data.miniPrograms.length === 0 ? (
        <p>No mini programs {teamId ? `in ${teamName(teamId)}` : "yet"}.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">App ID</th>
                <th scope="col">Team</th>
                <th scope="col">Shelf</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.data.miniPrograms.map((m) => (
                <tr>
                  <td>
                    <a href={`#/apps/${appIdOf(m)}`}>{m.name}</a>
                  </td>
                  <td>
                    <code>{appIdOf(m)}</code>
                  </td>
                  <td>{teamName(m.teamId)}</td>
                  <td>
                    <StatusBadge status={m.listed ? "listed" : "delisted"} />
                  </td>
                  <td>{fmtDate(m.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function DetailsPage(props: { me: Me; appId: string; mp: MiniProgram; reload: () => void }) {
  const { me, mp, appId } = props;
  const writable = canWrite(me, mp.teamId);
  const [editing, setEditing] = useState(false);
  const [editError, setEditError] = useState<ApiError | undefined>(undefined);
  const [shelfAsk, setShelfAsk] = useState(false);
  const [shelfError, setShelfError] = useState<ApiError | undefined>(undefined);
  const [bindError, setBindError] = useState<ApiError | undefined>(undefined);
  const [unbindAsk, setUnbindAsk] = useState<{ hostAppId: string; hostAppName: string } | null>(null);
  const [unbindError, setUnbindError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const teamAdmin = isTeamAdmin(me, mp.teamId);
  const unbind = async (hostAppId: string, hostAppName: string) => {
    try {
      await api("DELETE", `/v1/mini-programs/${appId}/bindings/${hostAppId}`);
      setUnbindAsk(null);
      setUnbindError(undefined);
      setNotice(`The binding to ${hostAppName} is removed.`);
      props.reload();
    } catch (err) {
      setUnbindError(asApiError(err));
    }
  };
  const hostApps = useLoad(() => api<{ hostApps: HostApp[] }>("GET", "/v1/host-apps"), []);
  const setShelf = async (listed: boolean) => {
    try {
      await api("PUT", `/v1/mini-programs/${appId}/shelf`, { listed });
      setShelfAsk(false);
      setShelfError(undefined);
      setNotice(listed ? "The mini program is on the shelf again." : "The mini program is delisted.");
      props.reload();
    } catch (err) {
      setShelfError(asApiError(err));
    }
  };
  const bound = new Set(mp.bindings.map((b) => b.hostAppId));
  return (
    <section>
      {notice && <Notice>{notice}</Notice>}
      <h2>Details</h2>
      <dl class="facts">
        <dt>App ID</dt>
        <dd>
          <code id="app-id">{appId}</code> <CopyButton text={appId} label="Copy App ID" />
          <small class="hint block">Very important: keep this ID safe. Clients and the CLI use it.</small>
        </dd>
        <dt>Name</dt>
        <dd>{mp.name}</dd>
        <dt>Description</dt>
        <dd>{mp.description || "—"}</dd>
        <dt>Shelf</dt>
        <dd>
          <StatusBadge status={mp.listed ? "listed" : "delisted"} />
        </dd>
        <dt>Online version</dt>
        <dd>{mp.onlineVersion ?? "none yet"}</dd>
        <dt>Edge</dt>
        <dd>
          revision {mp.edge.revision}
          {mp.edge.pending ? " (reaching the edge…)" : " (live at the edge)"}
        </dd>
        <dt>IDE and CLI</dt>
        <dd>
          <a href={mp.ideDownloadUrl} rel="noopener noreferrer">
            Download the latest IDE
          </a>
          <small class="hint block">
            From the command line, with an <a href="#/tokens">API token</a> (<a href="/docs">API reference</a>
            ):{" "}
            <code>
              curl -X POST "{location.origin}/v1/mini-programs/{appId}/versions?version=1.0.1" -H
              "authorization: Bearer $TOKEN" -H "content-type: application/zip" --data-binary @package.zip
            </code>
          </small>
        </dd>
        <dt>Created</dt>
        <dd>{fmtDate(mp.createdAt)}</dd>
      </dl>
      {writable && !editing && (
        <div class="actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" class={mp.listed ? "danger" : ""} onClick={() => setShelfAsk(true)}>
            {mp.listed ? "Take off the shelf" : "Put on the shelf"}
          </button>
        </div>
      )}
      {shelfAsk &&
        (mp.listed ? (
          <Confirm
            title={`Take ${mp.name} off the shelf?`}
            confirmLabel="Delist"
            danger
            onConfirm={() => setShelf(false)}
            onCancel={() => setShelfAsk(false)}
          >
            <p>After delisting:</p>
            <ul>
              <li>every bound host app stops serving it: clients get "delisted", presets (.apkg) too;</li>
              <li>no version can be published and no new grayscale task started;</li>
              <li>running grayscale tasks are suspended;</li>
              <li>versions can still be submitted for audit.</li>
            </ul>
            <ErrorNote error={shelfError} />
          </Confirm>
        ) : (
          <Confirm
            title={`Put ${mp.name} back on the shelf?`}
            confirmLabel="Put on the shelf"
            onConfirm={() => setShelf(true)}
            onCancel={() => setShelfAsk(false)}
          >
            <p>
              Clients get the online version again. Tasks suspended by the delisting stay suspended until
              resumed.
            </p>
            <ErrorNote error={shelfError} />
          </Confirm>
        ))}
      {editing && (
        <form
          class="card"
          aria-label="Edit mini program"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              await api("PATCH", `/v1/mini-programs/${appId}`, {
                name: formValue(form, "name"),
                description: formValue(form, "description"),
              });
              setEditing(false);
              setEditError(undefined);
              setNotice("Saved.");
              props.reload();
            } catch (err) {
              setEditError(asApiError(err));
            }
          }}
        >
          <Field name="name" label="Name" value={mp.name} required error={editError} />
          <Field name="description" label="Description" value={mp.description} multiline error={editError} />
          <ErrorNote error={editError} fields={["name", "description"]} />
          <div class="actions">
            <button type="submit" class="primary">
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <h2>Host apps</h2>
      <p class="hint">
        A release takes effect on every bound host app. The host app's manager approves a binding.
      </p>
      {mp.bindings.length === 0 ? (
        <p>Not bound to any host app yet.</p>
      ) : (
        <ul class="plain">
          {mp.bindings.map((b) => (
            <li>
              {b.hostAppName} <code>{b.hostAppId}</code> <StatusBadge status={b.status} />{" "}
              <small>since {fmtDate(b.decidedAt ?? b.createdAt)}</small>
              {teamAdmin && (
                <>
                  {" "}
                  <button
                    type="button"
                    class="small danger"
                    onClick={() => setUnbindAsk({ hostAppId: b.hostAppId, hostAppName: b.hostAppName })}
                  >
                    Remove binding to {b.hostAppName}
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {unbindAsk && (
        <Confirm
          title={`Remove the binding to ${unbindAsk.hostAppName}?`}
          confirmLabel="Remove binding"
          danger
          onConfirm={() => unbind(unbindAsk.hostAppId, unbindAsk.hostAppName)}
          onCancel={() => setUnbindAsk(null)}
        >
          <p>
            Clients of {unbindAsk.hostAppName} stop getting {mp.name} as soon as the edge has the new snapshot
            (seconds): their checks answer "not bound", and login through that host app is refused. Binding
            again needs the host app manager's approval, and its auditor's approval of the versions it has not
            reviewed.
          </p>
          <ErrorNote error={unbindError} />
        </Confirm>
      )}
      {writable && hostApps.data?.hostApps.some((h) => !bound.has(h.id)) && (
        <form
          class="inline"
          aria-label="Request a binding"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              await api("POST", `/v1/mini-programs/${appId}/bindings`, {
                hostAppId: formValue(form, "hostAppId"),
              });
              setBindError(undefined);
              setNotice("Binding requested: the host app's manager approves it.");
              props.reload();
            } catch (err) {
              setBindError(asApiError(err));
            }
          }}
        >
          <label for="f-bind">Bind to host app</label>
          <select id="f-bind" name="hostAppId">
            {hostApps.data.hostApps
              .filter((h) => !bound.has(h.id))
              .map((h) => (
                <option value={h.id}>{h.name}</option>
              ))}
          </select>
          <button type="submit">Request binding</button>
          <ErrorNote error={bindError} />
        </form>
      )}
    </section>
  );
}
