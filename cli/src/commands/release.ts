/**
 * The release path: upload, versions, submit, wait, audits, approve / reject, publish, rollback,
 * trial, withdraw (PRODUCT.md O3; the lifecycle rules are the server's: its refusals are shown
 * as sent).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { filesDigest } from "../../../core/increment";
import { packageSigningInput } from "../../../core/signature";
import { appIdOf } from "../api/app-id";
import { ok } from "../api/client";
import { type Sent, streamBody, transfer } from "../api/transfer";
import { CANCELLED } from "../cancel";
import { RefusedError, UsageError } from "../errors";
import { formatBytes, type Output } from "../output";
import { register } from "../registry";
import { preparePackage } from "../zip";
import {
  APP_OPTION,
  appArg,
  hostAppArg,
  intArg,
  type Schemas,
  sleep,
  VERSION_OPTION,
  versionArg,
} from "./common";

type Version = Schemas["Version"];

function showVersion(v: Version, out: Output) {
  out.fields([
    ["version", v.version],
    ["status", v.status + (v.online ? " (online)" : "")],
    ["sha256", v.package.sha256],
    [
      "size",
      `${formatBytes(v.package.size)} (${v.package.fileCount} files, ${formatBytes(v.package.unpackedSize)} unpacked)`,
    ],
    ["signature", v.signature ? `${v.signature.alg} ${v.signature.kid}` : "-"],
    ["uploaded", v.createdAt],
  ]);
}

const sha256Hex = async (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/**
 * The x-graycast-signature header for a package (README "Signing keys"): the developer's private
 * JWK signs core/signature.ts packageSigningInput(appId, version, filesSha256), exactly as
 * scripts/sign-package.mjs does.
 */
async function signatureHeader(
  keyFile: string,
  kidFlag: string | undefined,
  appId: string,
  version: string,
  files: { path: string; size: number; sha256: string }[],
): Promise<string> {
  let jwk: Record<string, unknown>;
  try {
    const parsed = JSON.parse(readFileSync(keyFile, "utf8")) as { private?: Record<string, unknown> };
    jwk = parsed.private ?? (parsed as Record<string, unknown>);
  } catch (error) {
    throw new UsageError(`cannot read the signing key ${keyFile}: ${(error as Error).message}`);
  }
  if (typeof jwk.d !== "string") throw new UsageError('--sign-key must be a private JWK (with "d")');
  const alg =
    jwk.kty === "OKP" && jwk.crv === "Ed25519"
      ? "EdDSA"
      : jwk.kty === "EC" && jwk.crv === "P-256"
        ? "ES256"
        : undefined;
  if (!alg) throw new UsageError("the signing key must be Ed25519 (OKP) or P-256 (EC)");
  const kid = kidFlag ?? jwk.kid;
  if (typeof kid !== "string" || !/^sk_[a-z2-7]{16}$/.test(kid))
    throw new UsageError(
      "give --key-id: the key id (sk_...) the server returned when the public key was registered",
    );
  const { kid: _k, alg: _a, ...material } = jwk;
  const privateKey = createPrivateKey({ key: material as import("node:crypto").JsonWebKey, format: "jwk" });
  const input = packageSigningInput(appId, version, await filesDigest(files, sha256Hex));
  const signature =
    alg === "EdDSA"
      ? sign(null, input, privateKey)
      : sign("sha256", input, { key: privateKey, dsaEncoding: "ieee-p1363" });
  const publicKey = createPublicKey(privateKey);
  const verified =
    alg === "EdDSA"
      ? verify(null, input, publicKey, signature)
      : verify("sha256", input, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature);
  if (!verified || signature.length !== 64) throw new UsageError("the key does not verify its own signature");
  return `${kid}:${alg}:${signature.toString("base64url")}`;
}

register({
  name: "upload",
  summary: "Upload a version's package (a folder, zipped deterministically, or a zip)",
  positionals: [
    { name: "dir|zip", required: true, description: "the mini program's folder, or a zip of it" },
  ],
  options: {
    ...APP_OPTION,
    ...VERSION_OPTION,
    description: {
      type: "string",
      short: "d",
      placeholder: "text",
      description: "what changed (at most 2000 characters)",
    },
    "sign-key": {
      type: "string",
      placeholder: "file",
      description: 'a private JWK (Ed25519 or P-256) to sign the package with (README "Signing keys")',
    },
    "key-id": {
      type: "string",
      placeholder: "sk_...",
      description: "the registered key's id (default: the JWK's kid)",
    },
    "zip-out": {
      type: "string",
      placeholder: "file",
      description: "also write the zip that is uploaded here",
    },
    "dry-run": { type: "boolean", description: "zip, check and sign, but do not upload" },
  },
  details:
    "A folder is zipped with its entries sorted and every time stamp fixed, so the same folder gives the\nsame sha256. The package is checked against the server's limits (32 MiB zip, 5000 files, 64 MiB\nunpacked, 16 MiB per file, paths, compression ratio) before anything is sent. On a terminal a\nprogress bar shows bytes, rate and time left; otherwise a plain line every 10 %. A connection that\nbreaks is retried (up to 3 times); an upload that had in fact arrived is recognised by its sha256.",
  examples: [
    'graycast upload ./dist --app gc... --version 1.2.0 --description "new cart"',
    "graycast upload build.zip --version 1.2.0 --sign-key dev-key.json --key-id sk_abcdefghijklmnop",
    "graycast upload ./dist --version 1.2.0 --dry-run --zip-out /tmp/app.zip",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const version = versionArg(ctx);
    const path = ctx.positionals[0]!;
    const description = ctx.str("description");
    const pkg = await preparePackage(path);
    const { inspection } = pkg;
    ctx.out.note(
      `${pkg.source === "folder" ? "Zipped" : "Checked"} ${path}: ${inspection.files.length} files, ${formatBytes(inspection.size)} (${formatBytes(inspection.unpackedSize)} unpacked), sha256 ${inspection.sha256}`,
    );
    const zipOut = ctx.str("zip-out");
    if (zipOut) (await import("node:fs")).writeFileSync(zipOut, pkg.zip);
    const keyFile = ctx.str("sign-key");
    const signature = keyFile
      ? await signatureHeader(keyFile, ctx.str("key-id"), appId, version, inspection.files)
      : undefined;
    if (signature) ctx.out.note(`Signed with ${signature.split(":").slice(0, 2).join(" ")}`);
    if (ctx.flag("dry-run"))
      return {
        appId,
        version,
        dryRun: true,
        sha256: inspection.sha256,
        size: inspection.size,
        fileCount: inspection.files.length,
        signature: signature ?? null,
      };

    const api = ctx.api({ retry: false });
    return transfer<Version>({
      streams: ctx.streams,
      label: `Uploading ${version}`,
      bytes: pkg.zip,
      baseUrl: ctx.apiUrl,
      send: (body) =>
        api.POST("/v1/mini-programs/{appId}/versions", {
          params: {
            path: { appId },
            query: { version, ...(description !== undefined ? { description } : {}) },
            header: signature ? { "x-graycast-signature": signature } : {},
          },
          body,
          ...streamBody("application/zip"),
        } as never) as Promise<Sent<Version>>,
      // A retry after a connection that broke once the server had the whole package: the
      // version exists, and it is this upload when its package is byte for byte the same.
      async recover(refused) {
        if (refused.status !== 409) return undefined;
        const existing = await api.GET("/v1/mini-programs/{appId}/versions/{version}", {
          params: { path: { appId, version } },
        });
        if (existing.data?.package.sha256 !== inspection.sha256) return undefined;
        ctx.out.note("The earlier attempt had arrived: the stored package is this one.");
        return existing.data;
      },
    });
  },
  show(
    r: Version | { dryRun: true; sha256: string; size: number; fileCount: number; signature: string | null },
    out: Output,
  ) {
    if ("dryRun" in r) {
      out.line(`Dry run: ${r.fileCount} files, ${formatBytes(r.size)}, sha256 ${r.sha256}; nothing uploaded`);
      return;
    }
    out.line(`${out.paint("green", "Uploaded")} ${r.version} (development)`);
    showVersion(r, out);
  },
});

register(
  {
    name: "versions",
    summary: "List a mini program's versions and their states",
    options: APP_OPTION,
    examples: [
      "graycast versions --app gc...",
      "graycast versions --json | jq -r '.versions[] | select(.online) | .version'",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}/versions", { params: { path: { appId } } }));
    },
    show(r: { versions: Version[] }, out: Output) {
      out.table(
        ["VERSION", "STATUS", "ONLINE", "SIZE", "FILES", "SIGNED", "UPLOADED"],
        r.versions.map((v) => [
          v.version,
          v.status,
          v.online ? "yes" : "",
          formatBytes(v.package.size),
          v.package.fileCount,
          v.signature?.kid ?? "",
          v.createdAt,
        ]),
      );
    },
  },
  {
    name: "versions show",
    summary: "Show one version, with its files",
    options: { ...APP_OPTION, ...VERSION_OPTION },
    examples: ["graycast versions show --app gc... --version 1.2.0"],
    async run(ctx) {
      const appId = appArg(ctx);
      const version = versionArg(ctx);
      return ok(
        ctx
          .api()
          .GET("/v1/mini-programs/{appId}/versions/{version}", { params: { path: { appId, version } } }),
      );
    },
    show(r: Version & { files: { path: string; size: number }[] }, out: Output) {
      showVersion(r, out);
      out.line();
      out.table(
        ["FILE", "SIZE"],
        r.files.map((f) => [f.path, formatBytes(f.size)]),
      );
    },
  },
  {
    name: "submit",
    summary: "Submit a development version for audit by the bound host apps",
    options: {
      ...APP_OPTION,
      ...VERSION_OPTION,
      note: { type: "string", placeholder: "text", description: "a note for the auditors" },
    },
    examples: ['graycast submit --app gc... --version 1.2.0 --note "new cart page"'],
    async run(ctx) {
      const appId = appArg(ctx);
      const version = versionArg(ctx);
      const note = ctx.str("note");
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/versions/{version}/submit", {
          params: { path: { appId, version } },
          body: note !== undefined ? { note } : {},
        }),
      );
    },
    show(r: { auditId: string; version: string; hostApps: string[] }, out: Output) {
      out.line(`Submitted ${r.version} for audit ${r.auditId} (host apps: ${r.hostApps.join(", ") || "-"})`);
    },
  },
  {
    name: "withdraw",
    summary: "Withdraw a version from audit (back to development)",
    options: { ...APP_OPTION, ...VERSION_OPTION },
    examples: ["graycast withdraw --app gc... --version 1.2.0"],
    async run(ctx) {
      const appId = appArg(ctx);
      const version = versionArg(ctx);
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/versions/{version}/withdraw", {
          params: { path: { appId, version } },
        }),
      );
    },
    show: showVersion,
  },
  {
    name: "wait",
    summary: "Wait until a submitted version is approved (exit 0) or rejected (exit 1)",
    options: {
      ...APP_OPTION,
      ...VERSION_OPTION,
      timeout: {
        type: "string",
        placeholder: "seconds",
        description: "give up after this long (default 3600; exit 1)",
      },
      interval: { type: "string", placeholder: "seconds", description: "between checks (default 10)" },
    },
    examples: ["graycast wait --app gc... --version 1.2.0 --timeout 7200"],
    async run(ctx) {
      const appId = appArg(ctx);
      const version = versionArg(ctx);
      const timeout = (intArg(ctx, "timeout") ?? 3600) * 1000;
      const interval = Math.max(1, intArg(ctx, "interval") ?? 10) * 1000;
      const started = Date.now();
      let last = "";
      for (;;) {
        const v = await ok(
          ctx
            .api()
            .GET("/v1/mini-programs/{appId}/versions/{version}", { params: { path: { appId, version } } }),
        );
        if (v.status !== last) ctx.out.note(`${version}: ${v.status}`);
        last = v.status;
        if (v.status === "approved" || v.status === "released") return v;
        if (v.status === "rejected" || v.status === "discarded" || v.status === "development") {
          const audits = await ok(
            ctx.api().GET("/v1/mini-programs/{appId}/audits", { params: { path: { appId } } }),
          );
          const audit = audits.audits.find((a) => a.version === version);
          const reasons = (audit?.reviews ?? [])
            .map((r) => r.reason)
            .filter(Boolean)
            .join("; ");
          throw new RefusedError(
            409,
            `version_${v.status}`,
            `${version} is ${v.status}${reasons ? `: ${reasons}` : ""}`,
          );
        }
        if (Date.now() - started >= timeout)
          throw new RefusedError(408, "timeout", `${version} is still ${v.status} after ${timeout / 1000} s`);
        await sleep(interval);
      }
    },
    show: showVersion,
  },
  {
    name: "publish",
    summary: "Release an approved version to everyone (it becomes the online version)",
    options: { ...APP_OPTION, ...VERSION_OPTION },
    examples: ["graycast publish --app gc... --version 1.2.0"],
    async run(ctx) {
      const appId = appArg(ctx);
      const version = versionArg(ctx);
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/versions/{version}/publish", {
          params: { path: { appId, version } },
        }),
      );
    },
    show(r: Version, out: Output) {
      out.line(`${out.paint("green", "Published")} ${r.version}: it is the online version`);
    },
  },
  {
    name: "rollback",
    summary: "Roll back to an earlier released version (default: the one before the current)",
    destructive: true,
    options: {
      ...APP_OPTION,
      to: { type: "string", placeholder: "x.y.z", description: "the released version to go back to" },
    },
    examples: ["graycast rollback --app gc... --yes", "graycast rollback --app gc... --to 1.0.0"],
    async run(ctx) {
      const appId = appArg(ctx);
      let to = ctx.str("to");
      if (!to) {
        const { releases } = await ok(
          ctx.api().GET("/v1/mini-programs/{appId}/releases", { params: { path: { appId } } }),
        );
        const latest = [...releases].sort((a, b) => b.seq - a.seq)[0];
        if (!latest?.fromVersion)
          throw new UsageError("there is no earlier release to go back to; give --to");
        to = latest.fromVersion;
      }
      if (!(await ctx.confirm(`Roll ${appId} back to ${to}? Clients on newer versions are told to go back.`)))
        return CANCELLED;
      return ok(
        ctx
          .api()
          .POST("/v1/mini-programs/{appId}/rollback", { params: { path: { appId } }, body: { version: to } }),
      );
    },
    show(r: Version, out: Output) {
      out.line(`${out.paint("yellow", "Rolled back")} to ${r.version}`);
    },
  },
  {
    name: "trial",
    summary: "Show the trial version's setup, or set its page and testers",
    options: {
      ...APP_OPTION,
      page: {
        type: "string",
        placeholder: "path",
        description: "the page the trial opens (e.g. pages/index/index?from=trial)",
      },
      tester: {
        type: "string",
        multiple: true,
        placeholder: "account",
        description: "a tester's account (replaces the list)",
      },
    },
    examples: [
      "graycast trial --app gc...",
      "graycast trial --app gc... --page pages/index/index --tester tester-001 --tester tester-002",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const page = ctx.str("page");
      const testers = ctx.list("tester");
      if (page === undefined && !testers.length)
        return ok(ctx.api().GET("/v1/mini-programs/{appId}/trial", { params: { path: { appId } } }));
      if (page === undefined) throw new UsageError("--page is required when setting testers");
      return ok(
        ctx.api().PUT("/v1/mini-programs/{appId}/trial", {
          params: { path: { appId } },
          body: { pagePath: page, testers },
        }),
      );
    },
  },
);

register({
  name: "audits",
  summary: "A mini program's audits (--app), or your host app's audit queue (auditors)",
  options: APP_OPTION,
  examples: ["graycast audits --app gc...", "graycast audits   # as an auditor: what waits for you"],
  async run(ctx) {
    const appId = ctx.str("app") ?? ctx.streams.env.GRAYCAST_APP;
    if (appId) {
      const r = await ok(
        ctx.api().GET("/v1/mini-programs/{appId}/audits", { params: { path: { appId: appArg(ctx) } } }),
      );
      return { audits: r.audits.map((a) => ({ ...a, appId: appArg(ctx) })) };
    }
    const r = await ok(ctx.api().GET("/v1/audits"));
    return { audits: r.audits.map((a) => ({ ...a, appId: appIdOf(a) })) };
  },
  show(
    r: {
      audits: {
        id: string;
        appId: string;
        kind: string;
        version: string;
        status?: string;
        hostAppId?: string;
        submittedAt: number;
        note: string;
      }[];
    },
    out: Output,
  ) {
    out.table(
      ["AUDIT", "APP ID", "KIND", "VERSION", "STATUS", "HOST APP", "SUBMITTED", "NOTE"],
      r.audits.map((a) => [
        a.id,
        a.appId,
        a.kind,
        a.version,
        a.status ?? "pending",
        a.hostAppId ?? "",
        a.submittedAt,
        a.note,
      ]),
    );
  },
});

for (const decision of ["approve", "reject"] as const)
  register({
    name: decision,
    summary:
      decision === "approve" ? "Approve an audit (auditors)" : "Reject an audit with a reason (auditors)",
    positionals: [{ name: "auditId", required: true, description: "the audit (from `graycast audits`)" }],
    options: {
      "host-app": {
        type: "string",
        placeholder: "hostAppId",
        description: "the host app you audit for (default: your only one)",
      },
      reason: {
        type: "string",
        placeholder: "text",
        description: decision === "reject" ? "why (required)" : "a note",
      },
    },
    examples:
      decision === "approve"
        ? ["graycast approve aud_123 --host-app ha_demo_superapp"]
        : ['graycast reject aud_123 --reason "the cart page crashes on iOS 15"'],
    async run(ctx) {
      const auditId = ctx.positionals[0]!;
      const reason = decision === "reject" ? ctx.need("reason") : ctx.str("reason");
      const hostAppId = await hostAppArg(ctx);
      return ok(
        ctx.api().POST("/v1/audits/{auditId}/decision", {
          params: { path: { auditId } },
          body: { hostAppId, decision, ...(reason !== undefined ? { reason } : {}) },
        }),
      );
    },
    show(r: { auditId: string; version: string; outcome?: string }, out: Output) {
      out.line(
        `${decision === "approve" ? "Approved" : "Rejected"} audit ${r.auditId} (${r.version})${r.outcome ? `: ${r.outcome}` : ""}`,
      );
    },
  });
