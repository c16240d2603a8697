/**
 * /docs: the admin API reference, rendered in the browser from /openapi.json by this bundle (no
 * CDN: it works offline, on a laptop running `npm start`). Operations grouped by tag, each with
 * its parameters, request body and responses; schemas linked by name.
 */
import type { Child } from "hono/jsx/dom";
import { render, useEffect, useState } from "hono/jsx/dom";

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  description?: string;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  nullable?: boolean;
  default?: unknown;
  example?: unknown;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}
interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { description?: string; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
  security?: unknown[];
}
interface Doc {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const refName = (ref: string) => ref.split("/").pop() ?? ref;
const anchor = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "-");

function SchemaView(props: { schema?: Schema }): Child {
  const s = props.schema;
  if (!s) return <span class="muted">any</span>;
  if (s.$ref) return <a href={`#schema-${anchor(refName(s.$ref))}`}>{refName(s.$ref)}</a>;
  const alts = s.anyOf ?? s.oneOf;
  if (alts)
    return (
      <span>
        {alts.map((a, i) => (
          <>
            {i > 0 && " | "}
            <SchemaView schema={a} />
          </>
        ))}
      </span>
    );
  if (s.allOf)
    return (
      <span>
        {s.allOf.map((a, i) => (
          <>
            {i > 0 && " & "}
            <SchemaView schema={a} />
          </>
        ))}
      </span>
    );
  if (s.enum) return <code>{s.enum.map((v) => JSON.stringify(v)).join(" | ")}</code>;
  if (s.type === "array")
    return (
      <span>
        <SchemaView schema={s.items} />
        []
      </span>
    );
  if (s.properties)
    return (
      <table class="props">
        <tbody>
          {Object.entries(s.properties).map(([k, v]) => (
            <tr>
              <th scope="row">
                <code>{k}</code>
                {s.required?.includes(k) ? (
                  <span class="req" title="required">
                    *
                  </span>
                ) : null}
              </th>
              <td>
                <SchemaView schema={v} />
                {v.description && <div class="muted">{v.description}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  const limits = [
    s.format,
    s.pattern && `pattern ${s.pattern}`,
    s.minLength !== undefined && `≥${s.minLength} chars`,
    s.maxLength !== undefined && `≤${s.maxLength} chars`,
    s.minimum !== undefined && `≥${s.minimum}`,
    s.maximum !== undefined && `≤${s.maximum}`,
  ].filter(Boolean);
  return (
    <span>
      <code>{Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any")}</code>
      {limits.length > 0 && <span class="muted"> ({limits.join(", ")})</span>}
    </span>
  );
}

function OperationView(props: { method: string; path: string; op: Operation }) {
  const { method, path, op } = props;
  const body = op.requestBody?.content;
  return (
    <details class="op" id={`op-${anchor(`${method} ${path}`)}`}>
      <summary>
        <span class={`method m-${method}`}>{method.toUpperCase()}</span> <code>{path}</code>{" "}
        <span class="muted">{op.summary ?? ""}</span>
        {op.security && op.security.length === 0 ? <span class="badge">no auth</span> : null}
      </summary>
      {op.description && <p>{op.description}</p>}
      {op.parameters && op.parameters.length > 0 && (
        <>
          <h4>Parameters</h4>
          <table class="props">
            <tbody>
              {op.parameters.map((p) => (
                <tr>
                  <th scope="row">
                    <code>{p.name}</code>
                    {p.required ? <span class="req">*</span> : null} <span class="muted">{p.in}</span>
                  </th>
                  <td>
                    <SchemaView schema={p.schema} />
                    {p.description && <div class="muted">{p.description}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {body && (
        <>
          <h4>Request body</h4>
          {op.requestBody?.description && <p class="muted">{op.requestBody.description}</p>}
          {Object.entries(body).map(([type, c]) => (
            <div>
              <code>{type}</code>: <SchemaView schema={c.schema} />
            </div>
          ))}
        </>
      )}
      <h4>Responses</h4>
      <table class="props">
        <tbody>
          {Object.entries(op.responses ?? {}).map(([code, r]) => (
            <tr>
              <th scope="row">{code}</th>
              <td>
                {r.description}
                {Object.entries(r.content ?? {}).map(([type, c]) => (
                  <div>
                    <code>{type}</code>: <SchemaView schema={c.schema} />
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

function Reference() {
  const [doc, setDoc] = useState<Doc | null>(null);
  const [error, setError] = useState("");
  const [filter, setFilter] = useState("");
  useEffect(() => {
    fetch("/openapi.json")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then(setDoc, (e: Error) => setError(e.message));
  }, []);
  if (error) return <p role="alert">The API description could not be loaded: {error}</p>;
  if (!doc) return <p>Loading the API description…</p>;
  const groups = new Map<string, { method: string; path: string; op: Operation }[]>();
  const f = filter.toLowerCase();
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods)) {
      if (
        f &&
        !`${method} ${path} ${op.summary ?? ""} ${(op.tags ?? []).join(" ")}`.toLowerCase().includes(f)
      )
        continue;
      const tag = op.tags?.[0] ?? "other";
      groups.set(tag, [...(groups.get(tag) ?? []), { method, path, op }]);
    }
  return (
    <>
      <header class="top">
        <a class="brand" href="/">
          Graycast
        </a>
        <nav aria-label="Main">
          <a href="/">Console</a>
          <a href="/openapi.json">openapi.json</a>
        </nav>
      </header>
      <main id="main">
        <h1>
          {doc.info.title} <small>{doc.info.version}</small>
        </h1>
        {doc.info.description && <p>{doc.info.description}</p>}
        <p>
          Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>: a session from{" "}
          <code>POST /v1/auth/login</code> or an API token. Errors share one shape:{" "}
          <code>{'{"error":{"code","message","issues":[{"path","message"}]}}'}</code>.
        </p>
        <div class="field">
          <label for="filter">Filter operations</label>
          <input
            id="filter"
            type="search"
            onInput={(e: Event) => setFilter((e.target as HTMLInputElement).value)}
          />
        </div>
        {[...groups].map(([tag, ops]) => (
          <section>
            <h2>{tag}</h2>
            {ops.map((o) => (
              <OperationView {...o} />
            ))}
          </section>
        ))}
        <h2>Schemas</h2>
        {Object.entries(doc.components?.schemas ?? {}).map(([name, s]) => (
          <details class="op" id={`schema-${anchor(name)}`}>
            <summary>
              <code>{name}</code>
            </summary>
            {s.description && <p class="muted">{s.description}</p>}
            <SchemaView schema={s} />
          </details>
        ))}
      </main>
    </>
  );
}

// A link to #schema-X opens that schema's <details>.
addEventListener("hashchange", () => {
  const el = document.getElementById(location.hash.slice(1));
  if (el instanceof HTMLDetailsElement) el.open = true;
});
const root = document.getElementById("app")!;
root.textContent = "";
render(<Reference />, root);
