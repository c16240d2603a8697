#!/usr/bin/env node
// `npm run cli:api`: writes cli/src/api/admin-api.ts, the path and operation types of the admin
// API that the CLI's openapi-fetch client is typed with, from the admin Worker's own
// GET /openapi.json. The document is obtained in-process (the control plane bundled for Node
// with esbuild and asked through its fetch handler; serving it touches no binding), or from a
// running stack with --from-url http://127.0.0.1:8788. `--check` exits 1 when the committed
// file differs (cli/test/admin-api.test.ts runs it).
//
// openapi-typescript does not run on this TypeScript; this is the small subset of it the
// document needs: JSON Schema 2020-12 (type arrays, enum, const, anyOf/oneOf/allOf, $ref,
// additionalProperties) to TypeScript, in the `paths` / `components` shape openapi-fetch reads.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const OUT_FILE = join(ROOT, "cli", "src", "api", "admin-api.ts");

/** The admin Worker's OpenAPI document, served by its own fetch handler in this process. */
export async function openApiInProcess() {
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [join(ROOT, "control-plane", "src", "index.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
    // The increment builder's zstd WebAssembly is not needed to describe the routes.
    loader: { ".wasm": "empty" },
  });
  const dir = mkdtempSync(join(tmpdir(), "graycast-openapi-"));
  try {
    writeFileSync(join(dir, "admin.mjs"), out.outputFiles[0].text);
    const admin = await import(pathToFileURL(join(dir, "admin.mjs")).href);
    const res = await admin.default.fetch(new Request("http://admin.local/openapi.json"), {}, {});
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    return await res.json();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k) => (IDENT.test(k) ? k : JSON.stringify(k));
const pad = (depth) => "  ".repeat(depth);

/** A TypeScript type for a JSON Schema (OpenAPI 3.1) at indentation `depth`. */
function typeOf(schema, depth) {
  if (schema === undefined || schema === true || (typeof schema === "object" && !Object.keys(schema).length))
    return "unknown";
  if (schema === false) return "never";
  if (schema.$ref) {
    const name = schema.$ref.replace(/^#\/components\/schemas\//, "");
    return `components["schemas"][${JSON.stringify(name)}]`;
  }
  if (schema.allOf) return schema.allOf.map((s) => wrap(typeOf(s, depth))).join(" & ");
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map((s) => wrap(typeOf(s, depth))).join(" | ");
  if ("const" in schema) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (!types.length) return schema.properties ? objectType(schema, depth) : "unknown";
  return types.map((t) => wrap(single(t, schema, depth))).join(" | ");
}

const wrap = (t) => (/[|&]/.test(t) && !/^[{(]/.test(t) ? `(${t})` : t);

function single(type, schema, depth) {
  switch (type) {
    case "string":
      return schema.format === "binary" ? "Binary" : "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return `${wrap(typeOf(schema.items, depth))}[]`;
    case "object":
      return objectType(schema, depth);
    default:
      return "unknown";
  }
}

function objectType(schema, depth) {
  const required = new Set(schema.required ?? []);
  const lines = Object.entries(schema.properties ?? {}).map(
    ([name, prop]) =>
      `${pad(depth + 1)}${key(name)}${required.has(name) ? "" : "?"}: ${typeOf(prop, depth + 1)};`,
  );
  const extra = schema.additionalProperties;
  if (extra !== undefined && extra !== false)
    lines.push(`${pad(depth + 1)}[key: string]: ${extra === true ? "unknown" : typeOf(extra, depth + 1)};`);
  if (!lines.length) return extra === false ? "Record<string, never>" : "Record<string, unknown>";
  return `{\n${lines.join("\n")}\n${pad(depth)}}`;
}

function parametersType(params, depth) {
  const groups = ["query", "header", "path", "cookie"].map((where) => {
    const list = params.filter((p) => p.in === where);
    if (!list.length) return `${pad(depth + 1)}${where}?: never;`;
    const anyRequired = list.some((p) => p.required);
    const body = list
      .map((p) => `${pad(depth + 2)}${key(p.name)}${p.required ? "" : "?"}: ${typeOf(p.schema, depth + 2)};`)
      .join("\n");
    return `${pad(depth + 1)}${where}${anyRequired ? "" : "?"}: {\n${body}\n${pad(depth + 1)}};`;
  });
  return `{\n${groups.join("\n")}\n${pad(depth)}}`;
}

function contentType(content, depth) {
  const lines = Object.entries(content ?? {}).map(
    ([media, c]) => `${pad(depth + 1)}${JSON.stringify(media)}: ${typeOf(c.schema, depth + 1)};`,
  );
  return lines.length ? `{\n${lines.join("\n")}\n${pad(depth)}}` : "never";
}

function operationType(op, inherited, depth) {
  const params = [...(inherited ?? []), ...(op.parameters ?? [])];
  const lines = [`${pad(depth + 1)}parameters: ${parametersType(params, depth + 1)};`];
  if (op.requestBody)
    lines.push(
      `${pad(depth + 1)}requestBody${op.requestBody.required ? "" : "?"}: {\n${pad(depth + 2)}content: ${contentType(op.requestBody.content, depth + 2)};\n${pad(depth + 1)}};`,
    );
  else lines.push(`${pad(depth + 1)}requestBody?: never;`);
  const responses = Object.entries(op.responses ?? {}).map(
    ([status, r]) =>
      `${pad(depth + 2)}${/^\d+$/.test(status) ? status : key(status)}: {\n${pad(depth + 3)}headers: { [name: string]: unknown };\n${pad(depth + 3)}content: ${contentType(r.content, depth + 3)};\n${pad(depth + 2)}};`,
  );
  lines.push(`${pad(depth + 1)}responses: {\n${responses.join("\n")}\n${pad(depth + 1)}};`);
  return `{\n${lines.join("\n")}\n${pad(depth)}}`;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** The whole module's text for an OpenAPI document. */
export function generate(doc) {
  const out = [
    "// Generated by `npm run cli:api` (cli/scripts/gen-admin-api.mjs) from the admin API's",
    `// GET /openapi.json (${doc.info?.title ?? "admin API"} ${doc.info?.version ?? ""}). Do not edit by hand:`,
    "// cli/test/admin-api.test.ts fails when this file is stale.",
    "",
    "/** A request or response body that is not JSON (a zip, a txt whitelist, an .apkg). */",
    "export type Binary = string | Uint8Array | Blob | ReadableStream<Uint8Array>;",
    "",
    "export interface paths {",
  ];
  for (const path of Object.keys(doc.paths).sort()) {
    const item = doc.paths[path];
    out.push(`  ${JSON.stringify(path)}: {`);
    for (const method of METHODS) {
      if (item[method]) out.push(`    ${method}: ${operationType(item[method], item.parameters, 2)};`);
    }
    out.push("  };");
  }
  out.push("}", "", "export interface components {", "  schemas: {");
  for (const name of Object.keys(doc.components?.schemas ?? {}).sort())
    out.push(`    ${key(name)}: ${typeOf(doc.components.schemas[name], 2)};`);
  out.push("  };", "}", "");
  return formatted(out.join("\n"));
}

/** The text as the repository's formatter (Biome) lays it out, so `biome ci` and --check agree. */
function formatted(text) {
  const r = spawnSync(
    join(ROOT, "node_modules", ".bin", "biome"),
    ["format", `--stdin-file-path=${OUT_FILE}`],
    {
      input: text,
      encoding: "utf8",
      cwd: ROOT,
    },
  );
  if (r.status !== 0) throw new Error(`biome format failed: ${r.stderr}`);
  return r.stdout;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: { "from-url": { type: "string" }, check: { type: "boolean" } },
  });
  const doc = values["from-url"]
    ? await (await fetch(new URL("/openapi.json", values["from-url"]))).json()
    : await openApiInProcess();
  const text = generate(doc);
  if (values.check) {
    let current = "";
    try {
      current = readFileSync(OUT_FILE, "utf8");
    } catch {}
    if (current !== text) {
      console.error("cli/src/api/admin-api.ts is stale: run `npm run cli:api` and commit the result");
      process.exit(1);
    }
    console.log("cli/src/api/admin-api.ts is up to date");
  } else {
    writeFileSync(OUT_FILE, text);
    console.log(`wrote ${OUT_FILE} (${Object.keys(doc.paths).length} paths)`);
  }
}
