/**
 * The Privacy tab (PRODUCT.md X7; seed "Settings"): fill the platform's template (developer name,
 * contact, data collected, purposes, third parties, retention), save the draft, preview the text,
 * publish numbered versions (clients are asked to accept a new one), read earlier versions.
 * API: control-plane/src/routes/privacy.ts.
 */
import { useState } from "hono/jsx/dom";
import { ApiError, api } from "../api";
import type { AppContext } from "../pages";
import { canWrite } from "../session";
import { asApiError, ErrorNote, Field, fmtDate, formValue, Loading, Notice, useLoad } from "../ui";

interface Fields {
  developerName: string;
  contact: string;
  dataCollected: string[];
  purposes: string[];
  thirdParties: string[];
  retention: string;
}
interface Version {
  version: number;
  sha256: string;
  url: string;
  publishedBy: string;
  publishedAt: number;
}
interface Draft {
  fields: Fields;
  updatedBy: string;
  updatedAt: number;
}

const lines = (text: string) =>
  text
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);

function fieldsOf(form: HTMLFormElement): Fields {
  const f = new FormData(form);
  return {
    developerName: formValue(f, "fields.developerName"),
    contact: formValue(f, "fields.contact"),
    dataCollected: lines(String(f.get("fields.dataCollected") ?? "")),
    purposes: lines(String(f.get("fields.purposes") ?? "")),
    thirdParties: lines(String(f.get("fields.thirdParties") ?? "")),
    retention: formValue(f, "fields.retention"),
  };
}

export function PrivacyPage(props: AppContext) {
  const { me, mp, appId } = props;
  const base = `/v1/mini-programs/${appId}/privacy`;
  // No draft yet is a 404: the form starts empty.
  const draft = useLoad(
    () =>
      api<Draft>("GET", `${base}/draft`).catch((e) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
    [appId],
  );
  const versions = useLoad(() => api<{ versions: Version[] }>("GET", `${base}/versions`), [appId]);
  const writable = canWrite(me, mp.teamId);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const [preview, setPreview] = useState<{ version: number; text: string } | null>(null);
  const [reading, setReading] = useState<{ version: number; text: string } | null>(null);
  const d = draft.data?.fields;
  const act = async (form: HTMLFormElement, what: "save" | "preview" | "publish") => {
    try {
      if (what === "preview") {
        setPreview(
          await api<{ version: number; text: string }>("POST", `${base}/preview`, { fields: fieldsOf(form) }),
        );
        setError(undefined);
        return;
      }
      await api("PUT", `${base}/draft`, { fields: fieldsOf(form) });
      if (what === "save") setNotice("Draft saved. Clients see nothing until it is published.");
      else {
        const v = await api<Version>("POST", `${base}/publish`);
        setNotice(`Version ${v.version} published: clients ask their users to accept it.`);
        setPreview(null);
        versions.reload();
      }
      setError(undefined);
    } catch (err) {
      setError(asApiError(err));
    }
  };
  return (
    <section>
      <h2>Privacy agreement</h2>
      <p class="hint">
        Fill in the platform's template, preview the text, then publish it as the next numbered version. The
        published version reaches clients in the runtime config; the reference client tells when a user must
        accept a new one. Lists take one item per line.
      </p>
      {notice && <Notice>{notice}</Notice>}
      {draft.data === undefined ? (
        <Loading error={draft.error} />
      ) : (
        <form class="card" aria-label="Privacy agreement" onSubmit={(e: Event) => e.preventDefault()}>
          <Field
            name="fields.developerName"
            label="Developer name"
            value={d?.developerName}
            required
            error={error}
          />
          <Field name="fields.contact" label="Contact" value={d?.contact} required error={error} />
          <Field
            name="fields.dataCollected"
            label="Data collected (one per line)"
            multiline
            value={d?.dataCollected.join("\n")}
            error={error}
          />
          <Field
            name="fields.purposes"
            label="Purposes (one per line)"
            multiline
            value={d?.purposes.join("\n")}
            error={error}
          />
          <Field
            name="fields.thirdParties"
            label="Third parties (one per line)"
            multiline
            value={d?.thirdParties.join("\n")}
            error={error}
          />
          <Field name="fields.retention" label="Retention" value={d?.retention} required error={error} />
          <ErrorNote
            error={error}
            fields={[
              "fields.developerName",
              "fields.contact",
              "fields.dataCollected",
              "fields.purposes",
              "fields.thirdParties",
              "fields.retention",
            ]}
          />
          <div class="actions">
            <button
              type="button"
              onClick={(e: Event) => act((e.target as HTMLElement).closest("form")!, "preview")}
            >
              Preview
            </button>
            {writable && (
              <>
                <button
                  type="button"
                  onClick={(e: Event) => act((e.target as HTMLElement).closest("form")!, "save")}
                >
                  Save draft
                </button>
                <button
                  type="button"
                  class="primary"
                  onClick={(e: Event) => act((e.target as HTMLElement).closest("form")!, "publish")}
                >
                  Publish
                </button>
              </>
            )}
          </div>
        </form>
      )}
      {preview && (
        <article class="block" aria-label="Preview">
          <h3>Preview of version {preview.version}</h3>
          <pre id="privacy-preview">{preview.text}</pre>
        </article>
      )}
      <h3>Published versions</h3>
      {!versions.data ? (
        <Loading error={versions.error} />
      ) : versions.data.versions.length === 0 ? (
        <p>None published: clients get no privacy agreement.</p>
      ) : (
        <ul class="plain">
          {versions.data.versions.map((v) => (
            <li>
              Version {v.version} <small>published {fmtDate(v.publishedAt)}</small>{" "}
              <button
                type="button"
                class="small"
                onClick={async () => {
                  try {
                    setReading(
                      await api<{ version: number; text: string }>("GET", `${base}/versions/${v.version}`),
                    );
                  } catch (err) {
                    setError(asApiError(err));
                  }
                }}
              >
                Read version {v.version}
              </button>
            </li>
          ))}
        </ul>
      )}
      {reading && (
        <article class="block" aria-label={`Version ${reading.version}`}>
          <h3>Version {reading.version}</h3>
          <pre id="privacy-version">{reading.text}</pre>
        </article>
      )}
    </section>
  );
}
