/**
 * The explain tool (PRODUCT.md G7): "why does this client get this version", each condition of
 * each task with pass / fail, from POST /v1/mini-programs/{appId}/explain.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { MiniProgram } from "../types";
import { asApiError, ErrorNote, Field, formValue, StatusBadge } from "../ui";

interface Explanation {
  listed: boolean;
  onlineVersion: string | null;
  user: { account: string | null; verified: boolean; why: string };
  decision: {
    status: string;
    reason: string;
    version: string | null;
    rollback: boolean;
    taskId: string | null;
  };
  tasks: {
    taskId: string;
    name: string | null;
    version: string;
    outcome: string;
    why: string;
    conditions: { condition: string; pass: boolean; detail: string }[];
  }[];
}

export function ExplainPage(props: { appId: string; mp: MiniProgram }) {
  const { appId, mp } = props;
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [result, setResult] = useState<Explanation | null>(null);
  const hostApps = mp.bindings.filter((b) => b.status === "approved");
  return (
    <section>
      <h2>Explain a decision</h2>
      <p class="hint">Why does this client get this version? Describe the client as it checks in.</p>
      <form
        aria-label="Explain"
        onSubmit={async (e: Event) => {
          e.preventDefault();
          const form = new FormData(e.target as HTMLFormElement);
          const opt = (name: string) => (formValue(form, name) ? { [name]: formValue(form, name) } : {});
          const client = {
            hostAppId: formValue(form, "hostAppId"),
            hostAppVersion: formValue(form, "hostAppVersion"),
            platform: formValue(form, "platform"),
            osVersion: formValue(form, "osVersion"),
            ...opt("guid"),
            ...opt("deviceId"),
            ...opt("account"),
            ...opt("network"),
            ...opt("brand"),
            ...opt("model"),
            ...opt("installedVersion"),
          };
          const geo = {
            ...(formValue(form, "country") ? { country: formValue(form, "country") } : {}),
            ...(formValue(form, "region") ? { region: formValue(form, "region") } : {}),
            ...(formValue(form, "city") ? { city: formValue(form, "city") } : {}),
          };
          try {
            setResult(
              await api<Explanation>("POST", `/v1/mini-programs/${appId}/explain`, {
                client,
                ...(Object.keys(geo).length ? { geo } : {}),
              }),
            );
            setError(undefined);
          } catch (err) {
            setResult(null);
            setError(asApiError(err));
          }
        }}
      >
        <div class="row">
          <div class="field">
            <label for="f-hostAppId">Host app</label>
            <select id="f-hostAppId" name="hostAppId">
              {hostApps.map((h) => (
                <option value={h.hostAppId}>{h.hostAppName}</option>
              ))}
            </select>
          </div>
          <Field name="hostAppVersion" label="Host app version" value="8.2.0" required error={error} />
        </div>
        <div class="row">
          <div class="field">
            <label for="f-platform">Platform</label>
            <select id="f-platform" name="platform">
              <option value="android">Android</option>
              <option value="ios">iOS</option>
            </select>
          </div>
          <Field name="osVersion" label="OS version" value="14" required error={error} />
        </div>
        <div class="row">
          <Field name="guid" label="GUID" error={error} />
          <Field name="deviceId" label="Device id" error={error} />
          <Field name="account" label="Account" error={error} />
        </div>
        <div class="row">
          <div class="field">
            <label for="f-network">Network</label>
            <select id="f-network" name="network">
              <option value="">unknown</option>
              {["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"].map((n) => (
                <option value={n}>{n}</option>
              ))}
            </select>
          </div>
          <Field name="brand" label="Brand" error={error} />
          <Field name="model" label="Model" error={error} />
        </div>
        <div class="row">
          <Field name="country" label="Country" error={error} />
          <Field name="region" label="Region" error={error} />
          <Field name="city" label="City" error={error} />
          <Field name="installedVersion" label="Installed version" error={error} />
        </div>
        <ErrorNote error={error} fields={["client", "geo"]} />
        <button type="submit" class="primary">
          Explain
        </button>
      </form>
      {result && (
        <div class="card" aria-live="polite">
          <h3>
            Gets {result.decision.version ?? "nothing"} <StatusBadge status={result.decision.status} />
          </h3>
          <p id="explain-reason">{result.decision.reason}</p>
          <p class="hint">{result.user.why}</p>
          {result.tasks.map((t) => (
            <div class="task-explain">
              <h4>
                {t.name ?? t.taskId} ({t.version}) <StatusBadge status={t.outcome} />
              </h4>
              <p>{t.why}</p>
              <ul class="plain">
                {t.conditions.map((c) => (
                  <li class={c.pass ? "pass" : "fail"}>
                    {c.pass ? "✓" : "✗"} {c.condition}: {c.detail}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
