/**
 * Version management (seed: "Version Management"): version overview (online version, audit
 * progress, development version), new version (zip upload), submit for audit, publish, rollback
 * ("Continuous rollback is not supported"), audit records and the trial version. PRODUCT.md V1-V6.
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api, upload } from "../api";
import { canWrite } from "../session";
import type { AuditRecord, Me, MiniProgram, Overview, Trial, Version } from "../types";
import {
  asApiError,
  Confirm,
  ErrorNote,
  Field,
  fmtBytes,
  fmtDate,
  formValue,
  Loading,
  listValue,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";

/** seed: "Version rollback: ... Continuous rollback is not supported." */
const NO_CONTINUOUS_ROLLBACK =
  "Continuous rollback is not supported: the online version came from a rollback, so publish a new version before rolling back again.";

function VersionLine(props: { v: Version }) {
  const { v } = props;
  return (
    <>
      <strong class="version">{v.version}</strong> <StatusBadge status={v.status} />
      <small class="block">
        {v.description || "no description"} · {fmtBytes(v.package.size)}, {v.package.fileCount} files
        {v.encrypted ? " · encrypted" : ""} · uploaded {fmtDate(v.createdAt)}
      </small>
    </>
  );
}

export function VersionsPage(props: { me: Me; appId: string; mp: MiniProgram; reload: () => void }) {
  const { me, appId, mp } = props;
  const writable = canWrite(me, mp.teamId);
  const base = `/v1/mini-programs/${appId}`;
  const overview = useLoad(() => api<Overview>("GET", `${base}/overview`), [appId]);
  const records = useLoad(() => api<{ audits: AuditRecord[] }>("GET", `${base}/audits`), [appId]);
  const [actionError, setActionError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const [rollbackAsk, setRollbackAsk] = useState<string | null>(null);
  const reloadAll = () => {
    overview.reload();
    records.reload();
    props.reload();
  };
  const act = async (what: string, method: string, path: string, body?: unknown) => {
    try {
      await api(method, path, body);
      setActionError(undefined);
      setNotice(what);
      reloadAll();
    } catch (err) {
      setNotice("");
      setActionError(asApiError(err));
    }
  };
  const o = overview.data;
  const hostName = (id: string) => mp.bindings.find((b) => b.hostAppId === id)?.hostAppName ?? id;
  return (
    <section>
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={actionError} />
      <h2>Version overview</h2>
      {!o ? (
        <Loading error={overview.error} />
      ) : (
        <div class="cards">
          <article class="card" aria-labelledby="ov-online">
            <h3 id="ov-online">Online version</h3>
            {o.online ? (
              <>
                <VersionLine v={o.online} />
                <small class="block">
                  {o.online.via === "rollback" ? "rolled back" : "published"}{" "}
                  {fmtDate(o.releases[0]?.releasedAt)}
                </small>
              </>
            ) : (
              <p>Nothing published yet.</p>
            )}
            {writable && o.online && (
              <div class="rollback">
                {o.rollbackAllowed ? (
                  <form
                    class="inline"
                    aria-label="Roll back"
                    onSubmit={(e: Event) => {
                      e.preventDefault();
                      setRollbackAsk(formValue(new FormData(e.target as HTMLFormElement), "version"));
                    }}
                  >
                    <label for="f-rollback">Roll back to</label>
                    <select id="f-rollback" name="version">
                      {o.rollbackCandidates.map((v) => (
                        <option value={v}>{v}</option>
                      ))}
                    </select>
                    <button type="submit">Roll back</button>
                  </form>
                ) : (
                  <p class="hint" role="note">
                    {o.online.via === "rollback"
                      ? NO_CONTINUOUS_ROLLBACK
                      : "No earlier released version to roll back to."}
                  </p>
                )}
              </div>
            )}
            {rollbackAsk && (
              <Confirm
                title={`Roll back to ${rollbackAsk}?`}
                confirmLabel={`Roll back to ${rollbackAsk}`}
                danger
                onConfirm={() => {
                  const v = rollbackAsk;
                  setRollbackAsk(null);
                  act(
                    `Rolled back to ${v}. Every bound host app now serves it.`,
                    "POST",
                    `${base}/rollback`,
                    {
                      version: v,
                    },
                  );
                }}
                onCancel={() => setRollbackAsk(null)}
              >
                <p>
                  Every bound host app serves {rollbackAsk} instead of {o.online?.version}. Continuous
                  rollback is not supported: the next rollback needs a new publish first.
                </p>
              </Confirm>
            )}
          </article>
          <article class="card" aria-labelledby="ov-audit">
            <h3 id="ov-audit">Audit progress</h3>
            {o.inAudit ? (
              <>
                <VersionLine v={o.inAudit} />
                <ul class="plain">
                  {(o.inAudit.progress?.reviews ?? []).map((r) => (
                    <li>
                      {hostName(r.hostAppId)}: <StatusBadge status={r.decision ?? "waiting"} />
                      {r.reason ? ` "${r.reason}"` : ""}
                    </li>
                  ))}
                </ul>
                {writable && (
                  <button
                    type="button"
                    onClick={() =>
                      act(
                        `Audit of ${o.inAudit?.version} withdrawn.`,
                        "POST",
                        `${base}/versions/${o.inAudit?.version}/withdraw`,
                      )
                    }
                  >
                    Withdraw audit
                  </button>
                )}
              </>
            ) : (
              <p>No version in audit.</p>
            )}
            {o.approved.map((v) => (
              <div class="approved">
                <VersionLine v={v} />
                {writable && (
                  <button
                    type="button"
                    class="primary"
                    onClick={() =>
                      act(
                        `Published ${v.version}: every bound host app serves it now.`,
                        "POST",
                        `${base}/versions/${v.version}/publish`,
                      )
                    }
                  >
                    Publish {v.version}
                  </button>
                )}
              </div>
            ))}
          </article>
          <article class="card" aria-labelledby="ov-dev">
            <h3 id="ov-dev">Development version</h3>
            {o.development ? (
              <>
                <VersionLine v={o.development} />
                {writable && o.development.status === "development" && (
                  <form
                    aria-label="Submit for audit"
                    onSubmit={(e: Event) => {
                      e.preventDefault();
                      const note = formValue(new FormData(e.target as HTMLFormElement), "note");
                      act(
                        `${o.development?.version} submitted for audit to every bound host app.`,
                        "POST",
                        `${base}/versions/${o.development?.version}/submit`,
                        { note },
                      );
                    }}
                  >
                    <Field name="note" label="Note for the auditors" />
                    <button type="submit" class="primary">
                      Submit for audit
                    </button>
                  </form>
                )}
              </>
            ) : (
              <p>No development version: upload one below.</p>
            )}
          </article>
        </div>
      )}
      {writable && <UploadForm appId={appId} onUploaded={reloadAll} />}
      <h2>Release history</h2>
      {o && (
        <ul class="plain">
          {o.releases.map((r) => (
            <li>
              {fmtDate(r.releasedAt)}: <strong>{r.version}</strong>{" "}
              {r.via === "rollback" ? "rolled back" : "published"}
              {r.fromVersion ? ` (from ${r.fromVersion})` : ""}
            </li>
          ))}
        </ul>
      )}
      <h2>Audit records</h2>
      {!records.data ? (
        <Loading error={records.error} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Submitted</th>
                <th scope="col">Reviews</th>
              </tr>
            </thead>
            <tbody>
              {records.data.audits.map((a) => (
                <tr>
                  <td>{a.version}</td>
                  <td>{a.kind}</td>
                  <td>
                    <StatusBadge status={a.status} />
                  </td>
                  <td>{fmtDate(a.submittedAt)}</td>
                  <td>
                    {a.reviews.map((r) => (
                      <div>
                        {hostName(r.hostAppId)}: {r.decision ?? "waiting"}
                        {r.reason ? ` — ${r.reason}` : ""}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <TrialForm appId={appId} writable={writable} />
    </section>
  );
}

function UploadForm(props: { appId: string; onUploaded: () => void }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [done, setDone] = useState("");
  return (
    <form
      class="card"
      aria-label="New version"
      onSubmit={async (e: Event) => {
        e.preventDefault();
        const el = e.target as HTMLFormElement;
        const form = new FormData(el);
        const file = form.get("package");
        const version = formValue(form, "version");
        const description = formValue(form, "description");
        if (!(file instanceof File) || file.size === 0) {
          setError(asApiError(new Error("choose the zip package to upload")));
          return;
        }
        setDone("");
        setError(undefined);
        setProgress(0);
        try {
          const q = new URLSearchParams({ version, ...(description ? { description } : {}) });
          const v = await upload<Version>(
            "POST",
            `/v1/mini-programs/${props.appId}/versions?${q}`,
            file,
            "application/zip",
            setProgress,
          );
          setDone(`Uploaded ${v.version}: ${v.package.fileCount} files. It is the development version now.`);
          el.reset();
          props.onUploaded();
        } catch (err) {
          setError(asApiError(err));
        } finally {
          setProgress(null);
        }
      }}
    >
      <h2>New version</h2>
      <p class="hint">Upload the code package (a zip, at most 32 MiB) as the new development version.</p>
      <Field name="version" label="Version number" required placeholder="1.3.0" error={error} />
      <Field name="description" label="Description" error={error} />
      <div class="field">
        <label for="f-package">Code package (.zip)</label>
        <input
          id="f-package"
          name="package"
          type="file"
          accept=".zip,application/zip"
          required
          aria-describedby={error ? "f-package-err" : undefined}
        />
        {error && !error.issues.some((i) => i.path === "version" || i.path === "description") && (
          <p id="f-package-err" class="field-error" role="alert">
            {error.code === "bad_package" ? `This archive cannot be used: ${error.message}` : error.message}
          </p>
        )}
      </div>
      {progress !== null && (
        <div class="progress">
          <label for="upload-progress">Uploading</label>
          <progress id="upload-progress" max={100} value={Math.round(progress * 100)}>
            {Math.round(progress * 100)}%
          </progress>
          <span>{Math.round(progress * 100)}%</span>
        </div>
      )}
      {done && <Notice>{done}</Notice>}
      <button type="submit" class="primary" disabled={progress !== null}>
        Upload
      </button>
    </form>
  );
}

function TrialForm(props: { appId: string; writable: boolean }) {
  const trial = useLoad(() => api<Trial>("GET", `/v1/mini-programs/${props.appId}/trial`), [props.appId]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [saved, setSaved] = useState(false);
  const t = trial.data;
  return (
    <>
      <h2>Trial version</h2>
      {!t ? (
        <Loading error={trial.error} />
      ) : (
        <form
          class="card"
          aria-label="Trial version"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            try {
              await api("PUT", `/v1/mini-programs/${props.appId}/trial`, {
                pagePath: formValue(form, "pagePath"),
                testers: listValue(formValue(form, "testers")),
              });
              setError(undefined);
              setSaved(true);
              trial.reload();
            } catch (err) {
              setSaved(false);
              setError(asApiError(err));
            }
          }}
        >
          <p>
            Testers get the development version {t.version ? <strong>{t.version}</strong> : "(none yet)"}{" "}
            opened at this page.
          </p>
          <Field
            name="pagePath"
            label="Page path"
            value={t.pagePath ?? ""}
            hint="relative, such as pages/index/index?from=trial"
            required
            error={error}
          />
          <Field
            name="testers"
            label="Testers (accounts, one per line)"
            value={t.testers.join("\n")}
            multiline
            error={error}
          />
          <ErrorNote error={error} fields={["pagePath", "testers"]} />
          {saved && <Notice>Trial configuration saved.</Notice>}
          {props.writable && (
            <button type="submit" class="primary">
              Save trial configuration
            </button>
          )}
        </form>
      )}
    </>
  );
}
