/**
 * The Messages tab (PRODUCT.md T1, T2; issue 14; seed "Subscription Message"): the public template
 * library (search by name, filter by type and category, paged) and "My Template": choose 1 to 5
 * keywords in the order the user sees them (the seed's "Drag the sort button on the right in the
 * selected list to arrange the keywords in order": drag, or the up / down buttons for keyboards),
 * the preview the user sees, add, list, delete. The seed's "the keywords cannot be repeated" is the
 * API's 409, shown as its own error. API: control-plane/src/routes/messages.ts, docs/messages.md.
 */
import { useEffect, useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import type { AppContext } from "../pages";
import { canWrite } from "../session";
import {
  asApiError,
  Confirm,
  CopyButton,
  ErrorNote,
  fmtDate,
  Loading,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";

interface Keyword {
  key: string;
  name: string;
  type: string;
  example: string;
}
interface PublicTemplate {
  id: string;
  title: string;
  category: string;
  type: "one-time" | "long-term";
  keywords: Keyword[];
}
interface MyTemplate {
  templateId: string;
  publicTemplateId: string;
  title: string;
  category: string;
  type: "one-time" | "long-term";
  keywords: Keyword[];
  preview: string;
  createdBy: string;
  createdAt: number;
}

/** core/messages.ts TEMPLATE_CATEGORIES (the console bundles nothing from core). */
const CATEGORIES = [
  "orders",
  "logistics",
  "travel",
  "government",
  "livelihood",
  "health",
  "finance",
  "education",
];
const PAGE_SIZE = 10;
const MAX_KEYWORDS = 5;

export function MessagesPage(props: AppContext) {
  const { me, mp, appId } = props;
  const base = `/v1/mini-programs/${appId}/message-templates`;
  const mine = useLoad(() => api<{ templates: MyTemplate[] }>("GET", base), [appId]);
  const writable = canWrite(me, mp.teamId);
  const [notice, setNotice] = useState("");
  const [ask, setAsk] = useState<MyTemplate | null>(null);
  const [deleteError, setDeleteError] = useState<ApiError | undefined>(undefined);
  const [picked, setPicked] = useState<PublicTemplate | null>(null);

  return (
    <section>
      <h2>Subscription messages</h2>
      <p class="hint">
        Pick a public template, choose 1 to 5 of its keywords in the order the user sees them, and add it to
        My Template. The mini program asks users to subscribe to its <code>templateId</code> (
        <code>requestSubscribeMessage</code>); the server then sends with{" "}
        <code>POST /cgi-bin/message/subscribe/send</code>. One-time: one message per accepted subscription;
        long-term: up to 5 a day per user and template (China Standard Time days). See docs/messages.md.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <h3>My Template</h3>
      {!mine.data ? (
        <Loading error={mine.error} />
      ) : mine.data.templates.length === 0 ? (
        <p class="muted">No template yet: add one from the library below.</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="My Template">
            <thead>
              <tr>
                <th scope="col">Title</th>
                <th scope="col">Template id</th>
                <th scope="col">Keywords (in order)</th>
                <th scope="col">What the user sees</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {mine.data.templates.map((t) => (
                <tr>
                  <td>
                    {t.title} <StatusBadge status={t.type} />
                    <br />
                    <small class="hint">
                      {t.category} · {t.publicTemplateId}
                    </small>
                  </td>
                  <td>
                    <code>{t.templateId}</code> <CopyButton text={t.templateId} label="Copy id" />
                  </td>
                  <td>
                    <ol class="keywords">
                      {t.keywords.map((k) => (
                        <li>
                          {k.name} <code>{k.key}</code>
                        </li>
                      ))}
                    </ol>
                  </td>
                  <td>
                    <pre class="preview">{t.preview}</pre>
                  </td>
                  <td>{fmtDate(t.createdAt)}</td>
                  <td>
                    {writable && (
                      <button
                        type="button"
                        class="small danger"
                        aria-label={`Delete ${t.title} (${t.templateId})`}
                        onClick={() => {
                          setDeleteError(undefined);
                          setAsk(t);
                        }}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {ask && (
        <Confirm
          title={`Delete ${ask.title}?`}
          confirmLabel="Delete template"
          danger
          onConfirm={async () => {
            try {
              await api("DELETE", `${base}/${ask.templateId}`);
              setAsk(null);
              setNotice(`${ask.title} (${ask.templateId}) deleted.`);
              mine.reload();
            } catch (err) {
              setDeleteError(asApiError(err));
            }
          }}
          onCancel={() => setAsk(null)}
        >
          <p>
            Every user's subscription to it goes too, and sends with <code>{ask.templateId}</code> answer
            errcode 40037. Messages already delivered stay in the inboxes until their 30 days end.
          </p>
          <ErrorNote error={deleteError} />
        </Confirm>
      )}
      {!writable && (
        <Notice kind="info">Only the team's admins and developers add and delete templates.</Notice>
      )}
      <Library writable={writable} onPick={setPicked} />
      {picked && (
        <Composer
          key={picked.id}
          template={picked}
          base={base}
          writable={writable}
          onClose={() => setPicked(null)}
          onAdded={(t) => {
            setPicked(null);
            setNotice(`${t.title} added to My Template as ${t.templateId}.`);
            mine.reload();
          }}
        />
      )}
    </section>
  );
}

function Library(props: { writable: boolean; onPick: (t: PublicTemplate) => void }) {
  const [filters, setFilters] = useState({ q: "", type: "", category: "" });
  const [page, setPage] = useState(1);
  const lib = useLoad(() => {
    const qs = new URLSearchParams({ page: String(page), pageSize: String(PAGE_SIZE) });
    if (filters.q) qs.set("q", filters.q);
    if (filters.type) qs.set("type", filters.type);
    if (filters.category) qs.set("category", filters.category);
    return api<{ templates: PublicTemplate[]; total: number; page: number; pageSize: number }>(
      "GET",
      `/v1/message-library?${qs}`,
    );
  }, [filters.q, filters.type, filters.category, page]);
  const pages = lib.data ? Math.max(1, Math.ceil(lib.data.total / lib.data.pageSize)) : 1;
  return (
    <article class="block" aria-labelledby="library-title">
      <h3 id="library-title">Public template library</h3>
      <form
        class="inline"
        aria-label="Search the template library"
        onSubmit={(e: Event) => {
          e.preventDefault();
          const f = new FormData(e.target as HTMLFormElement);
          setFilters({
            q: String(f.get("q") ?? "").trim(),
            type: String(f.get("type") ?? ""),
            category: String(f.get("category") ?? ""),
          });
          setPage(1);
        }}
      >
        <div class="field">
          <label for="lib-q">Template name</label>
          <input id="lib-q" name="q" type="search" maxlength={50} placeholder="flight" />
        </div>
        <div class="field">
          <label for="lib-type">Type</label>
          <select id="lib-type" name="type">
            <option value="">any</option>
            <option value="one-time">one-time</option>
            <option value="long-term">long-term</option>
          </select>
        </div>
        <div class="field">
          <label for="lib-category">Category</label>
          <select id="lib-category" name="category">
            <option value="">any</option>
            {CATEGORIES.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </div>
        <button type="submit">Search</button>
      </form>
      <p class="hint">
        Long-term templates exist only for public services (government, livelihood, health, travel, finance,
        education).
      </p>
      {!lib.data ? (
        <Loading error={lib.error} />
      ) : lib.data.templates.length === 0 ? (
        <p>No template matches.</p>
      ) : (
        <>
          <div class="table-wrap">
            <table aria-label="Public templates">
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Category</th>
                  <th scope="col">Type</th>
                  <th scope="col">Keywords</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {lib.data.templates.map((t) => (
                  <tr>
                    <td>
                      {t.title} <small class="hint">{t.id}</small>
                    </td>
                    <td>{t.category}</td>
                    <td>
                      <StatusBadge status={t.type} />
                    </td>
                    <td>{t.keywords.map((k) => k.name).join(", ")}</td>
                    <td>
                      <button type="button" class="small" onClick={() => props.onPick(t)}>
                        {props.writable ? `Choose keywords of ${t.title}` : `Preview ${t.title}`}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="actions" aria-label="Library pages">
            <button type="button" class="small" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Previous page
            </button>
            <span role="status">
              Page {lib.data.page} of {pages} · {lib.data.total} templates
            </span>
            <button type="button" class="small" disabled={page >= pages} onClick={() => setPage(page + 1)}>
              Next page
            </button>
          </nav>
        </>
      )}
    </article>
  );
}

/** The preview text the API gives (the title, then `name: example` per keyword), shown at once. */
const previewOf = (title: string, keywords: Keyword[]) =>
  [title, ...keywords.map((k) => `${k.name}: ${k.example}`)].join("\n");

function Composer(props: {
  template: PublicTemplate;
  base: string;
  writable: boolean;
  onClose: () => void;
  onAdded: (t: MyTemplate) => void;
}) {
  const t = props.template;
  const [order, setOrder] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [dragging, setDragging] = useState<number | null>(null);
  const byKey = new Map(t.keywords.map((k) => [k.key, k]));
  const chosen = order.map((k) => byKey.get(k)!).filter(Boolean);
  useEffect(() => setError(undefined), [order.join(",")]);

  const toggle = (key: string, on: boolean) =>
    setOrder(on ? (order.includes(key) ? order : [...order, key]) : order.filter((k) => k !== key));
  const move = (from: number, to: number) => {
    if (to < 0 || to >= order.length || from === to) return;
    const next = [...order];
    const [k] = next.splice(from, 1);
    next.splice(to, 0, k!);
    setOrder(next);
  };

  return (
    <article class="card composer" aria-labelledby="composer-title">
      <h3 id="composer-title">
        {t.title} <StatusBadge status={t.type} /> <small class="hint">{t.category}</small>
      </h3>
      <div class="composer-grid">
        <fieldset>
          <legend>Keywords (choose 1 to {MAX_KEYWORDS})</legend>
          <ul class="plain">
            {t.keywords.map((k) => {
              const on = order.includes(k.key);
              return (
                <li>
                  <label>
                    <input
                      type="checkbox"
                      checked={on}
                      disabled={!on && order.length >= MAX_KEYWORDS}
                      onChange={(e: Event) => toggle(k.key, (e.target as HTMLInputElement).checked)}
                    />{" "}
                    {k.name} <code>{k.key}</code> <small class="hint">e.g. {k.example}</small>
                  </label>
                </li>
              );
            })}
          </ul>
        </fieldset>
        <div>
          <h4>Chosen, in order</h4>
          {chosen.length === 0 ? (
            <p class="muted">Choose at least one keyword.</p>
          ) : (
            <ol class="order" aria-label="Chosen keywords in order">
              {chosen.map((k, i) => (
                <li
                  draggable="true"
                  class={dragging === i ? "dragging" : ""}
                  onDragStart={(e: DragEvent) => {
                    setDragging(i);
                    e.dataTransfer?.setData("text/plain", String(i));
                  }}
                  onDragOver={(e: DragEvent) => e.preventDefault()}
                  onDrop={(e: DragEvent) => {
                    e.preventDefault();
                    const from = Number(e.dataTransfer?.getData("text/plain") ?? dragging);
                    if (Number.isInteger(from)) move(from, i);
                    setDragging(null);
                  }}
                  onDragEnd={() => setDragging(null)}
                >
                  <span class="grip" aria-hidden="true">
                    ⠿
                  </span>{" "}
                  {k.name}{" "}
                  <button
                    type="button"
                    class="small"
                    disabled={i === 0}
                    aria-label={`Move ${k.name} up`}
                    onClick={() => move(i, i - 1)}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    class="small"
                    disabled={i === chosen.length - 1}
                    aria-label={`Move ${k.name} down`}
                    onClick={() => move(i, i + 1)}
                  >
                    ↓
                  </button>
                </li>
              ))}
            </ol>
          )}
          <h4>What the user will see</h4>
          <pre class="preview" id="message-preview">
            {chosen.length ? previewOf(t.title, chosen) : t.title}
          </pre>
        </div>
      </div>
      {error?.status === 409 ? (
        <div class="error" role="alert">
          <strong>Already in My Template with these keywords.</strong> {error.message}
        </div>
      ) : (
        <ErrorNote error={error} />
      )}
      <div class="actions">
        {props.writable && (
          <button
            type="button"
            class="primary"
            disabled={chosen.length === 0}
            onClick={async () => {
              try {
                const added = await api<MyTemplate>("POST", props.base, {
                  publicTemplateId: t.id,
                  keywords: order,
                });
                props.onAdded(added);
              } catch (err) {
                setError(asApiError(err));
              }
            }}
          >
            Add to My Template
          </button>
        )}
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </article>
  );
}
