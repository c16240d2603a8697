/**
 * Grayscale release (seed: "Grayscale Release"): the task list newest first with states, the new
 * task form with every condition of the seed, txt whitelists with upload progress, suspend /
 * resume / end / end-and-revert, progress (admitted users against the cap over time, by host app
 * and platform) and the explain tool. PRODUCT.md G1-G7. Health guardrails (G7, issue 15; docs/grayscale.md
 * "Health guardrails"): set on create and edit, the trip shown with its figures, and the health
 * figures of both versions per 10-minute bucket next to the admitted users.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api, upload } from "../api";
import { BarChart, LineChart, SeriesChart } from "../charts";
import { navigate } from "../router";
import { canWrite } from "../session";
import type {
  Guardrails,
  GuardrailTrip,
  IncludeExclude,
  Me,
  MiniProgram,
  Overview,
  Progress,
  Task,
} from "../types";
import {
  asApiError,
  Confirm,
  ErrorNote,
  Field,
  fmtDate,
  formValue,
  issuesFor,
  Loading,
  listValue,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";

const NETWORKS = ["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"] as const;
const PLATFORMS = [
  { id: "android", label: "Android" },
  { id: "ios", label: "iOS" },
] as const;
const KINDS = [
  { kind: "guid", field: "guids", label: "GUIDs" },
  { kind: "deviceId", field: "deviceIds", label: "Custom device ids" },
  { kind: "account", field: "accounts", label: "User accounts" },
] as const;
const RULE_LISTS = [
  { field: "brands", label: "Device brands" },
  { field: "models", label: "Device models" },
  { field: "countries", label: "Countries" },
  { field: "regions", label: "Regions" },
  { field: "cities", label: "Cities" },
] as const;

/** Which field a seed rule the API refused (the error's `rule`) belongs to. */
const RULE_FIELD: Record<string, string> = {
  task_version_invalid: "version",
  task_version_was_online: "version",
  task_version_not_approved: "version",
  task_version_not_higher: "version",
  task_name_invalid: "name",
  task_time_invalid: "endAt",
  task_end_in_past: "endAt",
  task_cap_invalid: "userCap",
  task_cap_shards_invalid: "capShards",
  task_percentage_invalid: "percentage",
  task_no_host_app: "hostApps",
  task_host_app_not_bound: "hostApps",
  task_range_invalid: "hostApps",
  task_no_platform: "platforms",
  task_platform_invalid: "platforms",
  task_target_invalid: "targets",
  task_too_many_targets: "targets",
  task_network_invalid: "networks",
  task_rule_list_invalid: "rules",
};

/** The API's message for a field: zod issues by path, and a refused seed rule by RULE_FIELD. */
function messagesFor(error: ApiError | undefined, field: string): string[] {
  if (!error) return [];
  // A 409 says the rule in its message; a 400 past a seed limit says it in the field's issue.
  const fromRule =
    error.code === "conflict" && error.rule && RULE_FIELD[error.rule] === field ? [error.message] : [];
  return [
    ...issuesFor(error, field).map((i) => (i.path === field ? i.message : `${i.path}: ${i.message}`)),
    ...fromRule,
  ];
}
const claimed = (error: ApiError | undefined): boolean => {
  const rule = error?.rule;
  return rule !== undefined && RULE_FIELD[rule] !== undefined;
};
/** Whether everything the API refused is shown next to one of `fields` (a seed rule, or issues on them). */
function onFields(error: ApiError | undefined, fields: string[]): boolean {
  if (!error) return false;
  if (claimed(error)) return true;
  const onAField = (path: string) => fields.some((f) => path === f || path.startsWith(`${f}.`));
  return error.issues.length > 0 && error.issues.every((i) => onAField(i.path));
}

function FieldErrors(props: { id: string; messages: string[] }) {
  return props.messages.length ? (
    <p id={props.id} class="field-error" role="alert">
      {props.messages.join("; ")}
    </p>
  ) : null;
}

/** "2026-12-05T08:30:00" in the user's zone, for datetime-local inputs. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The cap shards field's help, the same on the new-task form and in the edit dialog (docs/grayscale.md "Cap shards"). */
const CAP_SHARDS_HINT =
  "1 to 64; empty: 1. Only used with a user cap: about one per 700 new users a second at the peak; fixed once the task starts.";

/** What the task page says of a task's cap shards: how many, and whether they count at all. */
function capShardsText(t: Pick<Task, "userCap" | "capShards">): string {
  if (t.userCap == null) return `${t.capShards}, unused while the task has no cap`;
  return t.capShards === 1
    ? "1 (one counter)"
    : `${t.capShards} (the cap split over ${t.capShards} counters)`;
}

const STATE_LABEL: Record<string, string> = {
  pending: "pending delivery",
  delivering: "being delivered",
  suspended: "suspended",
  ended: "ended",
};

export function GrayscaleList(props: { me: Me; appId: string; mp: MiniProgram }) {
  const { appId } = props;
  const tasks = useLoad(
    () => api<{ tasks: Task[] }>("GET", `/v1/mini-programs/${appId}/grayscale-tasks`),
    [appId],
  );
  const sorted = [...(tasks.data?.tasks ?? [])].sort((a, b) => b.createdAt - a.createdAt);
  return (
    <section>
      <div class="head">
        <h2>Grayscale release</h2>
        {canWrite(props.me, props.mp.teamId) && (
          <a class="button primary" href={`#/apps/${appId}/grayscale/new`}>
            New grayscale task
          </a>
        )}
      </div>
      <p class="hint">
        All conditions intersect. Once the end time or the user cap is reached, no new user gets the grayscale
        version. Publishing a version ends the tasks of the same or a lower version.
      </p>
      {!tasks.data ? (
        <Loading error={tasks.error} />
      ) : sorted.length === 0 ? (
        <p>No grayscale task yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Window</th>
                <th scope="col">Cap</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((t) => (
                <tr>
                  <td>
                    <a href={`#/apps/${appId}/grayscale/${t.id}`}>{t.name}</a>
                  </td>
                  <td>{t.version}</td>
                  <td>
                    <StatusBadge status={t.state} />
                    {t.endReason ? <small class="block">{t.endReason.replace(/_/g, " ")}</small> : null}
                  </td>
                  <td>
                    {fmtDate(t.startAt)} – {fmtDate(t.endAt)}
                  </td>
                  <td>{t.userCap ?? "no cap"}</td>
                  <td>{fmtDate(t.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ruleOf(form: FormData, field: string): IncludeExclude | undefined {
  const include = listValue(formValue(form, `${field}.include`));
  const exclude = listValue(formValue(form, `${field}.exclude`));
  if (include.length === 0 && exclude.length === 0) return undefined;
  return { ...(include.length ? { include } : {}), ...(exclude.length ? { exclude } : {}) };
}

/** The guardrails' fields of a form; `id` tells the create form's from the edit form's. */
function GuardrailFields(props: { error?: ApiError; current: Guardrails | null; id: string }) {
  const { current, error } = props;
  const er = current?.errorRate;
  const cr = current?.crashes;
  const f = (name: string) => `${props.id}-${name.replace(/[^a-zA-Z0-9]/g, "-")}`;
  return (
    <fieldset aria-describedby={`${props.id}-hint ${props.id}-err`}>
      <legend>Health guardrails (optional)</legend>
      <p id={`${props.id}-hint`} class="hint">
        The task suspends itself when a rule trips: no new user gets the version, admitted users keep it, and
        the change log says why. Counted from the real-time logs of both versions.
      </p>
      <label class="check">
        <input type="checkbox" name="guardrails.errorRate.on" checked={Boolean(er)} /> Suspend when the error
        rate is too high
      </label>
      <div class="row">
        <Field
          id={f("errorRate.maxPointsAboveOnline")}
          name="guardrails.errorRate.maxPointsAboveOnline"
          label="Points above the online version's error rate"
          type="number"
          min="0"
          max="100"
          step="0.01"
          value={String(er?.maxPointsAboveOnline ?? 5)}
          error={error}
          hint="Error rate: share of sessions with an error entry, in %. Suspends when the gray version's exceeds the online version's by more than this."
        />
        <Field
          id={f("errorRate.minSessions")}
          name="guardrails.errorRate.minSessions"
          label="Minimum sessions per version"
          type="number"
          min="1"
          step="1"
          value={String(er?.minSessions ?? 50)}
          error={error}
          hint="Fewer sessions in the window are noise: no comparison. Window: 10 minutes (fixed)."
        />
      </div>
      <label class="check">
        <input type="checkbox" name="guardrails.crashes.on" checked={Boolean(cr)} /> Suspend on crash reports
      </label>
      <div class="row">
        <Field
          id={f("crashes.max")}
          name="guardrails.crashes.max"
          label="Crash reports tolerated"
          type="number"
          min="0"
          step="1"
          value={String(cr?.max ?? 10)}
          error={error}
          hint="One more in the window suspends the task."
        />
        <Field
          id={f("crashes.windowMinutes")}
          name="guardrails.crashes.windowMinutes"
          label="Crash window (minutes)"
          type="number"
          min="10"
          max="1440"
          step="10"
          value={String(cr?.windowMinutes ?? 60)}
          error={error}
          hint="Whole 10-minute steps, up to 1440 (a day)."
        />
      </div>
      <FieldErrors
        id={`${props.id}-err`}
        messages={issuesFor(error, "guardrails")
          .filter((i) => i.path === "guardrails")
          .map((i) => i.message)}
      />
    </fieldset>
  );
}

/** The guardrails a form asks for: null when no rule is ticked. A blank number is left out (the API names it). */
function guardrailsOf(form: FormData): Guardrails | null {
  const num = (name: string): number | undefined => {
    const v = formValue(form, name);
    return v === "" ? undefined : Number(v);
  };
  const g: Record<string, unknown> = {};
  if (form.get("guardrails.errorRate.on") === "on")
    g.errorRate = {
      maxPointsAboveOnline: num("guardrails.errorRate.maxPointsAboveOnline"),
      minSessions: num("guardrails.errorRate.minSessions"),
      windowMinutes: 10,
    };
  if (form.get("guardrails.crashes.on") === "on")
    g.crashes = {
      max: num("guardrails.crashes.max"),
      windowMinutes: num("guardrails.crashes.windowMinutes"),
    };
  return Object.keys(g).length ? (g as Guardrails) : null;
}

/** The guardrails in words, for the task's conditions. */
function describeGuardrails(g: Guardrails | null): string[] {
  if (!g) return [];
  return [
    ...(g.errorRate
      ? [
          `error rate more than ${g.errorRate.maxPointsAboveOnline} points above the online version's, both over at least ${g.errorRate.minSessions} sessions in ${g.errorRate.windowMinutes} minutes`,
        ]
      : []),
    ...(g.crashes ? [`more than ${g.crashes.max} crash reports in ${g.crashes.windowMinutes} minutes`] : []),
  ];
}

export function NewTaskPage(props: { me: Me; appId: string; mp: MiniProgram }) {
  const { appId, mp } = props;
  const overview = useLoad(() => api<Overview>("GET", `/v1/mini-programs/${appId}/overview`), [appId]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [progress, setProgress] = useState<{ label: string; value: number } | null>(null);
  const bound = mp.bindings.filter((b) => b.status === "approved");
  // The form's default times, fixed when the page opens: a re-render (a refused submit) must not
  // reset the times the user entered.
  const [now] = useState(Date.now());
  if (!overview.data) return <Loading error={overview.error} />;
  const candidates = overview.data.approved;
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const num = (name: string) => (formValue(form, name) === "" ? null : Number(formValue(form, name)));
    const time = (name: string) => {
      const v = formValue(form, name);
      const ms = v ? new Date(v).getTime() : Number.NaN;
      return Number.isNaN(ms) ? v : new Date(ms).toISOString();
    };
    const range = (min: string, max: string, a: string, b: string) => ({
      ...(formValue(form, a) ? { [min]: formValue(form, a) } : {}),
      ...(formValue(form, b) ? { [max]: formValue(form, b) } : {}),
    });
    const targets = Object.fromEntries(
      KINDS.map((k) => [k.field, listValue(formValue(form, `targets.${k.field}`))]).filter(
        ([, v]) => (v ?? []).length > 0,
      ),
    );
    const body: Record<string, unknown> = {
      version: formValue(form, "version"),
      name: formValue(form, "name"),
      startAt: time("startAt"),
      endAt: time("endAt"),
      userCap: num("userCap"),
      percentage: num("percentage"),
      hostApps: bound
        .filter((b) => form.get(`hostApp.${b.hostAppId}`) === "on")
        .map((b) => ({
          hostAppId: b.hostAppId,
          ...range("minVersion", "maxVersion", `hostApp.${b.hostAppId}.min`, `hostApp.${b.hostAppId}.max`),
        })),
      platforms: PLATFORMS.filter((p) => form.get(`platform.${p.id}`) === "on").map((p) => ({
        platform: p.id,
        ...range("minOsVersion", "maxOsVersion", `platform.${p.id}.min`, `platform.${p.id}.max`),
      })),
      ...(Object.keys(targets).length ? { targets } : {}),
      networks: NETWORKS.filter((n) => form.get(`network.${n}`) === "on"),
      verifiedOnly: form.get("verifiedOnly") === "on",
      // Absent = 1 (the API's default): one counter.
      ...(formValue(form, "capShards") ? { capShards: Number(formValue(form, "capShards")) } : {}),
    };
    const guardrails = guardrailsOf(form);
    if (guardrails) body.guardrails = guardrails;
    for (const r of RULE_LISTS) {
      const rule = ruleOf(form, r.field);
      if (rule) body[r.field] = rule;
    }
    const files = KINDS.map((k) => ({ kind: k, file: form.get(`whitelist.${k.kind}`) })).filter(
      (f): f is { kind: (typeof KINDS)[number]; file: File } => f.file instanceof File && f.file.size > 0,
    );
    try {
      const task = await api<Task>("POST", `/v1/mini-programs/${appId}/grayscale-tasks`, body);
      setError(undefined);
      for (const f of files) {
        setProgress({ label: `Uploading the ${f.kind.label} whitelist`, value: 0 });
        await upload(
          "PUT",
          `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}/whitelists/${f.kind.kind}`,
          f.file,
          "text/plain",
          (v) => setProgress({ label: `Uploading the ${f.kind.label} whitelist`, value: v }),
        );
      }
      navigate(`/apps/${appId}/grayscale/${task.id}?created=1`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setProgress(null);
    }
  };
  return (
    <section>
      <h2>New grayscale task</h2>
      <form aria-label="New grayscale task" onSubmit={submit} novalidate>
        <div class="field">
          <label for="f-version">Grayscale version</label>
          <select id="f-version" name="version" aria-describedby="f-version-hint f-version-err">
            {candidates.map((v) => (
              <option value={v.version}>{v.version}</option>
            ))}
          </select>
          <small id="f-version-hint" class="hint">
            Must have passed the audit, never been online, and be higher than the online version
            {mp.onlineVersion ? ` (${mp.onlineVersion})` : ""}.{" "}
            {candidates.length === 0 ? "No approved version yet: submit one for audit first." : ""}
          </small>
          <FieldErrors id="f-version-err" messages={messagesFor(error, "version")} />
        </div>
        <Field
          name="name"
          label="Task name"
          required
          hint="No more than 20 characters."
          messages={messagesFor(error, "name")}
        />
        <div class="row">
          <Field
            name="startAt"
            label="Start time"
            type="datetime-local"
            step="1"
            value={localInput(now + 5 * 60_000)}
            messages={messagesFor(error, "startAt")}
          />
          <Field
            name="endAt"
            label="End time"
            type="datetime-local"
            step="1"
            value={localInput(now + 7 * 86_400_000)}
            hint="Cannot be earlier than the moment you create the task."
            messages={messagesFor(error, "endAt")}
          />
        </div>
        <div class="row">
          <Field
            name="userCap"
            label="Number of grayscale users (cap)"
            type="number"
            min="1"
            hint="Empty: no cap."
            messages={messagesFor(error, "userCap")}
          />
          <Field
            name="capShards"
            label="Cap shards"
            type="number"
            min="1"
            max="64"
            hint={CAP_SHARDS_HINT}
            messages={messagesFor(error, "capShards")}
          />
          <Field
            name="percentage"
            label="Share of eligible users (%)"
            type="number"
            min="0.01"
            max="100"
            step="0.01"
            hint="Empty: everyone the other conditions admit."
            messages={messagesFor(error, "percentage")}
          />
        </div>
        <fieldset aria-describedby="hostApps-err">
          <legend>Effective host apps (version range optional)</legend>
          {bound.length === 0 && <p>No approved host app binding yet.</p>}
          {bound.map((b) => (
            <div class="range">
              <label>
                <input type="checkbox" name={`hostApp.${b.hostAppId}`} checked /> {b.hostAppName}
              </label>
              <label>
                from{" "}
                <input
                  name={`hostApp.${b.hostAppId}.min`}
                  placeholder="8.0.0"
                  size={8}
                  aria-label={`${b.hostAppName} lowest app version`}
                />
              </label>
              <label>
                to{" "}
                <input
                  name={`hostApp.${b.hostAppId}.max`}
                  placeholder="9.9.9"
                  size={8}
                  aria-label={`${b.hostAppName} highest app version`}
                />
              </label>
            </div>
          ))}
          <FieldErrors id="hostApps-err" messages={messagesFor(error, "hostApps")} />
        </fieldset>
        <fieldset aria-describedby="platforms-err">
          <legend>Platforms (OS version range optional)</legend>
          {PLATFORMS.map((p) => (
            <div class="range">
              <label>
                <input type="checkbox" name={`platform.${p.id}`} checked /> {p.label}
              </label>
              <label>
                from{" "}
                <input name={`platform.${p.id}.min`} size={6} aria-label={`${p.label} lowest OS version`} />
              </label>
              <label>
                to{" "}
                <input name={`platform.${p.id}.max`} size={6} aria-label={`${p.label} highest OS version`} />
              </label>
            </div>
          ))}
          <FieldErrors id="platforms-err" messages={messagesFor(error, "platforms")} />
        </fieldset>
        <fieldset aria-describedby="targets-err">
          <legend>Grayscale objects (typed, or a txt whitelist: one per line)</legend>
          <p class="hint">
            Empty: every user the other conditions admit. Lists of up to 1,000,000 entries: upload a txt file.
          </p>
          {KINDS.map((k) => (
            <div class="target">
              <Field
                name={`targets.${k.field}`}
                label={`${k.label} (one per line)`}
                multiline
                error={error}
              />
              <div class="field">
                <label for={`f-whitelist-${k.kind}`}>{k.label}: txt whitelist</label>
                <input
                  id={`f-whitelist-${k.kind}`}
                  name={`whitelist.${k.kind}`}
                  type="file"
                  accept=".txt,text/plain"
                />
              </div>
            </div>
          ))}
          <FieldErrors
            id="targets-err"
            messages={messagesFor(error, "targets").filter((m) => !m.startsWith("targets."))}
          />
        </fieldset>
        <fieldset aria-describedby="networks-err">
          <legend>Networks (none checked: any)</legend>
          <div class="checks">
            {NETWORKS.map((n) => (
              <label>
                <input type="checkbox" name={`network.${n}`} /> {n}
              </label>
            ))}
          </div>
          <FieldErrors id="networks-err" messages={messagesFor(error, "networks")} />
        </fieldset>
        <fieldset aria-describedby="rules-err">
          <legend>Advanced rules (comma separated, case-insensitive)</legend>
          {RULE_LISTS.map((r) => (
            <div class="row">
              <Field name={`${r.field}.include`} label={`${r.label}: only`} error={error} />
              <Field name={`${r.field}.exclude`} label={`${r.label}: never`} error={error} />
            </div>
          ))}
          <FieldErrors id="rules-err" messages={messagesFor(error, "rules")} />
        </fieldset>
        <label class="check">
          <input type="checkbox" name="verifiedOnly" /> Only accounts the host app vouched for (user
          assertions)
        </label>
        <GuardrailFields error={error} current={null} id="gr" />
        {!claimed(error) && (
          <ErrorNote
            error={error}
            fields={[
              "version",
              "name",
              "startAt",
              "endAt",
              "userCap",
              "percentage",
              "hostApps",
              "platforms",
              "targets",
              "networks",
              "guardrails",
              ...RULE_LISTS.map((r) => r.field),
            ]}
          />
        )}
        {claimed(error) && (
          <p class="error" role="alert">
            The task was not created: see the message next to the field.
          </p>
        )}
        {progress && (
          <div class="progress">
            <label for="wl-progress">{progress.label}</label>
            <progress id="wl-progress" max={100} value={Math.round(progress.value * 100)} />
            <span>{Math.round(progress.value * 100)}%</span>
          </div>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={progress !== null}>
            Create grayscale task
          </button>
          <a class="button" href={`#/apps/${appId}/grayscale`}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

const ACTIONS: { action: string; label: string; when: string[]; confirm?: string }[] = [
  { action: "suspend", label: "Suspend", when: ["pending", "delivering"] },
  { action: "resume", label: "Resume", when: ["suspended"] },
  {
    action: "end",
    label: "End",
    when: ["pending", "delivering", "suspended"],
    confirm: "No new user gets the version; users already admitted keep it.",
  },
  {
    action: "end-and-revert",
    label: "End and revert",
    when: ["pending", "delivering", "suspended"],
    confirm: "No new user gets the version, and every admitted user goes back to the online version.",
  },
];

const DONE: Record<string, string> = {
  suspend: "Task suspended: no new user is admitted until it resumes.",
  resume: "Task resumed.",
  end: "Task ended: admitted users keep the version.",
  "end-and-revert": "Task ended and reverted: admitted users go back to the online version.",
};

export function TaskPage(props: {
  me: Me;
  appId: string;
  taskId: string;
  mp: MiniProgram;
  created: boolean;
}) {
  const { appId, taskId, mp } = props;
  const base = `/v1/mini-programs/${appId}/grayscale-tasks/${taskId}`;
  const task = useLoad(() => api<Task>("GET", base), [taskId]);
  const progress = useLoad(() => api<Progress>("GET", `${base}/progress`), [taskId]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [ask, setAsk] = useState<(typeof ACTIONS)[number] | null>(null);
  const [notice, setNotice] = useState(props.created ? "Grayscale task created." : "");
  const writable = canWrite(props.me, mp.teamId);
  const t = task.data;
  if (!t) return <Loading error={task.error} />;
  const hostName = (id: string) => mp.bindings.find((b) => b.hostAppId === id)?.hostAppName ?? id;
  const run = async (action: string) => {
    setAsk(null);
    try {
      await api("POST", `${base}/${action}`);
      setError(undefined);
      setNotice(DONE[action] ?? "Done.");
      task.reload();
      progress.reload();
    } catch (err) {
      setError(asApiError(err));
    }
  };
  const rule = (label: string, r: IncludeExclude | null) =>
    r && (r.include?.length || r.exclude?.length) ? (
      <>
        <dt>{label}</dt>
        <dd>
          {r.include?.length ? `only ${r.include.join(", ")}` : ""}
          {r.exclude?.length ? ` never ${r.exclude.join(", ")}` : ""}
        </dd>
      </>
    ) : null;
  return (
    <section>
      <p>
        <a href={`#/apps/${appId}/grayscale`}>← All grayscale tasks</a>
      </p>
      <div class="head">
        <h2>
          {t.name} <StatusBadge status={t.state} />
        </h2>
        <button type="button" onClick={() => (task.reload(), progress.reload())}>
          Refresh
        </button>
      </div>
      <p class="hint">
        State: {STATE_LABEL[t.state]}
        {t.endReason ? ` (${t.endReason.replace(/_/g, " ")})` : ""}
        {t.suspendedByDelisting ? " — suspended because the mini program was delisted" : ""}
        {t.state === "suspended" && t.suspendCause === "guardrail"
          ? " — suspended by a health guardrail"
          : ""}
      </p>
      {t.suspendCause === "guardrail" && t.guardrailTrip && <TripView trip={t.guardrailTrip} current />}
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={error} />
      {writable && (
        <div class="actions">
          {ACTIONS.filter((a) => a.when.includes(t.state)).map((a) => (
            <button
              type="button"
              class={a.confirm ? "danger" : ""}
              onClick={() => (a.confirm ? setAsk(a) : run(a.action))}
            >
              {a.label}
            </button>
          ))}
        </div>
      )}
      {ask && (
        <Confirm
          title={`${ask.label} “${t.name}”?`}
          confirmLabel={ask.label}
          danger
          onConfirm={() => run(ask.action)}
          onCancel={() => setAsk(null)}
        >
          <p>{ask.confirm}</p>
        </Confirm>
      )}
      <h3>Progress</h3>
      {!progress.data ? (
        <Loading error={progress.error} />
      ) : (
        <>
          <ProgressView p={progress.data} task={t} hostName={hostName} />
          <HealthView p={progress.data} task={t} onlineVersion={mp.onlineVersion ?? null} />
        </>
      )}
      {t.guardrailTrip && t.suspendCause !== "guardrail" && (
        <TripView trip={t.guardrailTrip} current={false} />
      )}
      <h3>Conditions</h3>
      <dl class="facts">
        <dt>Version</dt>
        <dd>{t.version}</dd>
        <dt>Time</dt>
        <dd>
          {fmtDate(t.startAt)} – {fmtDate(t.endAt)}
        </dd>
        <dt>User cap</dt>
        <dd>{t.userCap ?? "no cap"}</dd>
        <dt>Cap shards</dt>
        <dd id="task-cap-shards">{capShardsText(t)}</dd>
        <dt>Share</dt>
        <dd>{t.percentage == null ? "all eligible users" : `${t.percentage}%`}</dd>
        <dt>Host apps</dt>
        <dd>
          {t.hostApps
            .map((h) => `${hostName(h.hostAppId)} ${h.minVersion ?? "any"}–${h.maxVersion ?? "any"}`)
            .join(", ")}
        </dd>
        <dt>Platforms</dt>
        <dd>
          {t.platforms
            .map((p) => `${p.platform} ${p.minOsVersion ?? "any"}–${p.maxOsVersion ?? "any"}`)
            .join(", ")}
        </dd>
        <dt>Objects</dt>
        <dd>
          {KINDS.map((k) => `${k.label}: ${t.targets[k.field].length} typed`).join(", ")}
          {t.whitelists.map((w) => (
            <div>
              whitelist {w.kind}: {w.count.toLocaleString()} entries, uploaded {fmtDate(w.createdAt)}
            </div>
          ))}
        </dd>
        <dt>Networks</dt>
        <dd>{t.networks.length ? t.networks.join(", ") : "any"}</dd>
        {rule("Brands", t.brands)}
        {rule("Models", t.models)}
        {rule("Countries", t.countries)}
        {rule("Regions", t.regions)}
        {rule("Cities", t.cities)}
        <dt>Health guardrails</dt>
        <dd id="task-guardrails">
          {t.guardrails ? (
            <ul class="plain">
              {describeGuardrails(t.guardrails).map((g) => (
                <li>Suspend on {g}</li>
              ))}
            </ul>
          ) : (
            "none"
          )}
        </dd>
        <dt>Verified accounts only</dt>
        <dd>{t.verifiedOnly ? "yes" : "no"}</dd>
        <dt>Created</dt>
        <dd>{fmtDate(t.createdAt)}</dd>
      </dl>
      {writable && t.editableFields.length > 0 && (
        <EditTask
          base={base}
          task={t}
          onSaved={() => (task.reload(), progress.reload(), setNotice("Task saved."))}
        />
      )}
      {writable && (t.state === "pending" || t.state === "suspended") && (
        <WhitelistUpload base={base} onDone={() => (task.reload(), setNotice("Whitelist uploaded."))} />
      )}
    </section>
  );
}

/**
 * The fields a task may still change (all while pending; name, end, cap and share once started),
 * in two rows as on the new-task form: what and when, then how many. `empty` is what an emptied
 * number field sends (absent: null, which clears a cap or a share).
 */
const EDITABLE: readonly {
  field: "name" | "startAt" | "endAt" | "userCap" | "capShards" | "percentage";
  row: "when" | "size";
  label: string;
  type: "text" | "datetime-local" | "number";
  step?: string;
  min?: string;
  max?: string;
  hint?: string;
  empty?: number;
}[] = [
  { field: "name", row: "when", label: "Task name", type: "text" },
  { field: "startAt", row: "when", label: "Start time", type: "datetime-local", step: "1" },
  { field: "endAt", row: "when", label: "End time", type: "datetime-local", step: "1" },
  {
    field: "userCap",
    row: "size",
    label: "Number of grayscale users (cap)",
    type: "number",
    min: "1",
    hint: "Empty: no cap.",
  },
  // Only a pending task lists it in editableFields: a started task's users are fixed to their shard.
  {
    field: "capShards",
    row: "size",
    label: "Cap shards",
    type: "number",
    min: "1",
    max: "64",
    hint: CAP_SHARDS_HINT,
    empty: 1,
  },
  {
    field: "percentage",
    row: "size",
    label: "Share of eligible users (%)",
    type: "number",
    min: "0.01",
    max: "100",
    step: "0.01",
    hint: "Empty: everyone the other conditions admit.",
  },
];

function EditTask(props: { base: string; task: Task; onSaved: () => void }) {
  const { task } = props;
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const fields = EDITABLE.filter((f) => task.editableFields.includes(f.field));
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Edit task
      </button>
    );
  const currentOf = (field: (typeof EDITABLE)[number]["field"]): string => {
    const v = task[field];
    if (v == null) return "";
    return field === "startAt" || field === "endAt" ? localInput(Number(v)) : String(v);
  };
  return (
    <form
      class="card"
      aria-label="Edit task"
      novalidate
      onSubmit={async (e: Event) => {
        e.preventDefault();
        const form = new FormData(e.target as HTMLFormElement);
        const body: Record<string, unknown> = {};
        for (const f of fields) {
          const raw = formValue(form, f.field);
          if (raw === currentOf(f.field)) continue;
          if (f.type === "datetime-local") body[f.field] = raw ? new Date(raw).toISOString() : raw;
          else if (f.type === "number") body[f.field] = raw === "" ? (f.empty ?? null) : Number(raw);
          else body[f.field] = raw;
        }
        if (task.editableFields.includes("guardrails")) {
          const guardrails = guardrailsOf(form);
          if (JSON.stringify(guardrails) !== JSON.stringify(task.guardrails ?? null))
            body.guardrails = guardrails;
        }
        if (Object.keys(body).length === 0) return setOpen(false);
        try {
          await api("PATCH", props.base, body);
          setError(undefined);
          setOpen(false);
          props.onSaved();
        } catch (err) {
          setError(asApiError(err));
        }
      }}
    >
      <h3>Edit task</h3>
      {task.state !== "pending" && (
        <p class="hint">
          Once a task has started, only its name, end time, cap, share and guardrails can change.
        </p>
      )}
      {(["when", "size"] as const).map((row) => (
        <div class="row">
          {fields
            .filter((f) => f.row === row)
            .map((f) => (
              <Field
                id={`edit-${f.field}`}
                name={f.field}
                label={f.label}
                type={f.type}
                step={f.step}
                min={f.min}
                max={f.max}
                hint={f.hint}
                value={currentOf(f.field)}
                messages={messagesFor(error, f.field)}
              />
            ))}
        </div>
      ))}
      {task.editableFields.includes("guardrails") && (
        <GuardrailFields error={error} current={task.guardrails} id="edit-gr" />
      )}
      {onFields(error, [...fields.map((f) => f.field), "guardrails"]) ? (
        <p class="error" role="alert">
          The task was not saved: see the message next to the field.
        </p>
      ) : (
        <ErrorNote error={error} fields={[...fields.map((f) => f.field), "guardrails"]} />
      )}
      <div class="actions">
        <button type="submit" class="primary">
          Save task
        </button>
        <button type="button" onClick={() => (setOpen(false), setError(undefined))}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function WhitelistUpload(props: { base: string; onDone: () => void }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [result, setResult] = useState("");
  return (
    <form
      class="card"
      aria-label="Upload a whitelist"
      onSubmit={async (e: Event) => {
        e.preventDefault();
        const el = e.target as HTMLFormElement;
        const form = new FormData(el);
        const file = form.get("file");
        if (!(file instanceof File) || file.size === 0) return;
        setProgress(0);
        try {
          const r = await upload<{ count: number; lines: number; duplicates: number }>(
            "PUT",
            `${props.base}/whitelists/${formValue(form, "kind")}`,
            file,
            "text/plain",
            setProgress,
          );
          setError(undefined);
          setResult(
            `${r.count.toLocaleString()} entries stored (${r.lines} lines, ${r.duplicates} duplicates dropped).`,
          );
          el.reset();
          props.onDone();
        } catch (err) {
          setError(asApiError(err));
        } finally {
          setProgress(null);
        }
      }}
    >
      <h3>Upload a txt whitelist</h3>
      <p class="hint">Replaces the list of that kind. Possible while the task is pending or suspended.</p>
      <div class="row">
        <div class="field">
          <label for="f-wl-kind">Kind</label>
          <select id="f-wl-kind" name="kind">
            {KINDS.map((k) => (
              <option value={k.kind}>{k.label}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-wl-file">File (one per line)</label>
          <input id="f-wl-file" name="file" type="file" accept=".txt,text/plain" required />
        </div>
      </div>
      {progress !== null && (
        <div class="progress">
          <label for="wl-upload-progress">Uploading</label>
          <progress id="wl-upload-progress" max={100} value={Math.round(progress * 100)} />
          <span>{Math.round(progress * 100)}%</span>
        </div>
      )}
      <ErrorNote error={error} />
      {result && <Notice>{result}</Notice>}
      <button type="submit">Upload whitelist</button>
    </form>
  );
}

function ProgressView(props: { p: Progress; task: Task; hostName: (id: string) => string }) {
  const { p, task } = props;
  if (!p.tracked)
    return <p class="hint">{p.note ?? "This task has no user cap, so the edge does not count its users."}</p>;
  // Cumulative admitted users per hour, from the task's start, against the cap.
  let sum = 0;
  // Buckets are whole hours; the first one may begin before the task did, so it is drawn at the start.
  const start = Math.min(task.startAt, Date.now());
  const points = [
    { x: start, y: 0 },
    ...[...p.byHour]
      .sort((a, b) => a.hour - b.hour)
      .map((h) => ({ x: Math.max(h.hour, start), y: (sum += h.admitted) })),
  ];
  // The hourly buckets can trail the counter (admissions still held in edge leases): the total wins.
  if ((p.admitted ?? 0) > sum) points.push({ x: Date.now(), y: p.admitted ?? 0 });
  return (
    <div class="progress-view">
      <p class="big" aria-live="polite">
        <strong id="admitted">{(p.admitted ?? 0).toLocaleString()}</strong> of{" "}
        {p.userCap == null ? "no cap" : p.userCap.toLocaleString()} users admitted
        {p.remaining != null ? ` · ${p.remaining.toLocaleString()} left` : ""}
      </p>
      {p.note && <p class="hint">{p.note}</p>}
      <div class="charts">
        <LineChart title="Admitted users over time, against the cap" points={points} cap={p.userCap} />
        <BarChart
          title="By host app"
          bars={p.byHostApp.map((h) => ({ label: props.hostName(h.hostAppId), value: h.admitted }))}
        />
        <BarChart
          title="By platform"
          bars={p.byPlatform.map((h) => ({ label: h.platform, value: h.admitted }))}
        />
      </div>
    </div>
  );
}

const pct = (n: number) => `${Math.round(n * 100) / 100}%`;

/** A guardrail trip with the figures that tripped it: the one suspending the task, or the last one on record. */
function TripView(props: { trip: GuardrailTrip; current: boolean }) {
  const { trip } = props;
  const what = trip.guardrail === "crashes" ? "crash reports" : "error rate";
  const limit =
    trip.guardrail === "crashes"
      ? `more than ${trip.limit.max} crash reports in ${trip.limit.windowMinutes ?? trip.window.minutes} minutes`
      : `more than ${trip.limit.maxPointsAboveOnline} points above the online version, at least ${trip.limit.minSessions} sessions each`;
  return (
    <div class={`trip${props.current ? "" : " past"}`} role={props.current ? "alert" : undefined}>
      <h3 id="trip-title">
        {props.current
          ? `Suspended by the ${what} guardrail`
          : `Last guardrail trip (${what}), since resumed`}
      </h3>
      <p id="trip-summary">
        {fmtDate(trip.at)}: {trip.summary}.
      </p>
      <div class="table-wrap">
        <table aria-label="Figures that tripped the guardrail">
          <thead>
            <tr>
              <th scope="col">
                Window {fmtDate(trip.window.from)} – {fmtDate(trip.window.to)} ({trip.window.minutes} min)
              </th>
              <th scope="col">Sessions</th>
              <th scope="col">Error sessions</th>
              <th scope="col">Error rate</th>
              <th scope="col">Crash reports</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">Gray version {trip.gray.version}</th>
              <td>{trip.gray.sessions}</td>
              <td>{trip.gray.errorSessions}</td>
              <td>{pct(trip.gray.errorRate)}</td>
              <td>{trip.gray.crashes}</td>
            </tr>
            <tr>
              <th scope="row">Online version {trip.online.version ?? "(none)"}</th>
              <td>{trip.online.sessions}</td>
              <td>{trip.online.errorSessions}</td>
              <td>{pct(trip.online.errorRate)}</td>
              <td>{trip.online.crashes}</td>
            </tr>
          </tbody>
        </table>
      </div>
      <p class="hint">
        Limit: {limit}.{" "}
        {props.current
          ? "New users get the online version; admitted users keep this one. Resume once fixed: the guardrail's window starts afresh, or end and revert."
          : ""}
      </p>
    </div>
  );
}

/** Health figures per 10-minute bucket for both versions (from real-time logs), next to admitted users. */
function HealthView(props: { p: Progress; task: Task; onlineVersion: string | null }) {
  const h = props.p.health;
  if (!h) return null;
  const buckets = [...h.buckets].sort((a, b) => a.bucket - b.bucket);
  const grayLabel = `gray ${props.task.version}`;
  const onlineLabel = `online ${props.onlineVersion ?? ""}`.trim();
  const series = (pick: (f: Progress["health"]["buckets"][number]["gray"]) => number) => ({
    gray: {
      label: grayLabel,
      points: buckets
        .filter((b) => b.gray.sessions > 0 || b.gray.crashes > 0)
        .map((b) => ({ x: b.bucket, y: pick(b.gray) })),
    },
    online: {
      label: onlineLabel,
      points: buckets
        .filter((b) => b.online.sessions > 0 || b.online.crashes > 0)
        .map((b) => ({ x: b.bucket, y: pick(b.online) })),
    },
  });
  return (
    <div class="health-view">
      <h4>Health, per {h.bucketMinutes}-minute window (last 24 hours)</h4>
      {buckets.length === 0 ? (
        <p class="hint" id="health-empty">
          No log of {props.task.version} or the online version yet: figures appear as clients send real-time
          logs.
        </p>
      ) : (
        <>
          <div class="charts">
            <SeriesChart
              title="Error rate (% of sessions with an error)"
              unit="%"
              {...series((f) => f.errorRate)}
            />
            <SeriesChart title="Sessions (distinct devices)" unit="" {...series((f) => f.sessions)} />
            <SeriesChart title="Crash reports" unit="" {...series((f) => f.crashes)} />
          </div>
          <div class="table-wrap">
            <table aria-label="Health figures per window">
              <thead>
                <tr>
                  <th scope="col">Window from</th>
                  <th scope="col">Gray sessions</th>
                  <th scope="col">Gray error rate</th>
                  <th scope="col">Gray crashes</th>
                  <th scope="col">Online sessions</th>
                  <th scope="col">Online error rate</th>
                  <th scope="col">Online crashes</th>
                </tr>
              </thead>
              <tbody>
                {[...buckets].reverse().map((b) => (
                  <tr>
                    <td>{fmtDate(b.bucket)}</td>
                    <td>{b.gray.sessions}</td>
                    <td>{pct(b.gray.errorRate)}</td>
                    <td>{b.gray.crashes}</td>
                    <td>{b.online.sessions}</td>
                    <td>{pct(b.online.errorRate)}</td>
                    <td>{b.online.crashes}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {h.guardrails && h.windowSince > props.task.createdAt + 1000 && (
        <p class="hint">
          Since the resume at {fmtDate(h.windowSince)}, only newer logs count towards a guardrail.
        </p>
      )}
    </div>
  );
}
