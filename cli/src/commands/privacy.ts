/**
 * The privacy agreement (PRODUCT.md X7, the seed's "Settings"; docs/runtime-config.md "Privacy
 * agreement"): the platform's template, the team's draft (from a JSON or YAML file), a preview of
 * the text, numbered published versions. The published version reaches clients in runtime config.
 */
import { ok } from "../api/client";
import { UsageError } from "../errors";
import { isoTime, type Output } from "../output";
import { type Context, group, register } from "../registry";
import { APP_OPTION, appArg, readObjectFile, type Schemas } from "./common";

group("privacy", "The privacy agreement: template, draft, preview, numbered published versions");

type Fields = Schemas["PrivacyFields"];
type Version = Schemas["PrivacyVersion"];

const FILE_OPTION = {
  file: {
    type: "string" as const,
    short: "f",
    placeholder: "file",
    description:
      "the fields from a JSON (.json) or YAML file: developerName, contact, dataCollected, purposes, thirdParties, retention",
  },
};

/** The fields from --file; a top-level `fields:` wrapper (as the API answers) is accepted too. */
function fieldsFrom(ctx: Context): Fields | undefined {
  const path = ctx.str("file");
  if (path === undefined) return undefined;
  const value = readObjectFile(path, "the agreement's fields");
  const inner = value.fields;
  return (inner && typeof inner === "object" && !Array.isArray(inner) ? inner : value) as Fields;
}

function showFields(f: Fields, out: Output) {
  const list = (v: string[]) => (v.length ? v.join("; ") : "(none)");
  out.fields([
    ["developer", f.developerName],
    ["contact", f.contact],
    ["data collected", list(f.dataCollected)],
    ["purposes", list(f.purposes)],
    ["third parties", list(f.thirdParties)],
    ["retention", f.retention],
  ]);
}

const DRAFT_EXAMPLE = `# privacy.yaml
developerName: Acme Ltd
contact: privacy@acme.example
dataCollected: [location]
purposes: [Find the nearest store]
thirdParties: []
retention: 30 days`;

register(
  {
    name: "privacy template",
    summary: "The platform's agreement template and its placeholders",
    options: APP_OPTION,
    examples: [
      "graycast privacy template --app gc...",
      "graycast privacy template --app gc... --json | jq .placeholders",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}/privacy/template", { params: { path: { appId } } }));
    },
    show(r: { template: string; placeholders: string[] }, out: Output) {
      out.line(r.template.trimEnd());
      out.note(`Placeholders: ${r.placeholders.join(", ")}`);
    },
  },
  {
    name: "privacy draft",
    summary: "Show the draft, or save one from --file (JSON or YAML)",
    options: { ...APP_OPTION, ...FILE_OPTION },
    details: `A draft file looks like:\n\n${DRAFT_EXAMPLE}`,
    examples: [
      "graycast privacy draft --app gc...",
      "graycast privacy draft --app gc... --file privacy.yaml",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const fields = fieldsFrom(ctx);
      if (fields === undefined)
        return ok(ctx.api().GET("/v1/mini-programs/{appId}/privacy/draft", { params: { path: { appId } } }));
      return ok(
        ctx.api().PUT("/v1/mini-programs/{appId}/privacy/draft", {
          params: { path: { appId } },
          body: { fields },
        }),
      );
    },
    show(r: { fields: Fields; updatedBy: string; updatedAt: number }, out: Output) {
      showFields(r.fields, out);
      out.note(`Draft saved ${isoTime(r.updatedAt)} by ${r.updatedBy}.`);
    },
  },
  {
    name: "privacy preview",
    summary: "The agreement's text as it would be published (the draft, or the fields of --file)",
    options: { ...APP_OPTION, ...FILE_OPTION },
    examples: [
      "graycast privacy preview --app gc...",
      "graycast privacy preview --app gc... --file privacy.yaml",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const fields = fieldsFrom(ctx);
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/privacy/preview", {
          params: { path: { appId } },
          body: fields === undefined ? {} : { fields },
        }),
      );
    },
    show(r: { version: number; text: string }, out: Output) {
      out.note(`Version ${r.version} would read:`);
      out.line(r.text.trimEnd());
    },
  },
  {
    name: "privacy publish",
    summary: "Publish the draft as the next numbered version; clients must accept it",
    options: APP_OPTION,
    examples: [
      "graycast privacy publish --app gc...",
      "graycast privacy publish --app gc... --json | jq .version",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().POST("/v1/mini-programs/{appId}/privacy/publish", { params: { path: { appId } } }));
    },
    show(v: Version, out: Output) {
      out.line(`Published privacy agreement version ${v.version}: ${v.url}`);
    },
  },
  {
    name: "privacy versions",
    summary: "The published versions, or one version's fields and text",
    positionals: [{ name: "version", description: "a version number (default: list them all)" }],
    options: APP_OPTION,
    examples: ["graycast privacy versions --app gc...", "graycast privacy versions 2 --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      const given = ctx.positionals[0];
      if (given === undefined)
        return ok(
          ctx.api().GET("/v1/mini-programs/{appId}/privacy/versions", { params: { path: { appId } } }),
        );
      if (!/^[1-9]\d{0,8}$/.test(given))
        throw new UsageError(`${JSON.stringify(given)} is not a version number`);
      return ok(
        ctx.api().GET("/v1/mini-programs/{appId}/privacy/versions/{version}", {
          params: { path: { appId, version: Number(given) } },
        }),
      );
    },
    show(r: { versions: Version[] } | (Version & { fields: Fields; text: string }), out: Output) {
      if ("versions" in r) {
        out.table(
          ["VERSION", "PUBLISHED", "BY", "URL"],
          r.versions.map((v) => [v.version, isoTime(v.publishedAt), v.publishedBy, v.url]),
        );
        return;
      }
      out.fields([
        ["version", r.version],
        ["published", `${isoTime(r.publishedAt)} by ${r.publishedBy}`],
        ["URL", r.url],
        ["sha256", r.sha256],
      ]);
      out.line();
      out.line(r.text.trimEnd());
    },
  },
);
