#!/usr/bin/env node
// Downloads a mini program's offline package (`{miniAppId}_{miniAppVersion}.apkg`, PRODUCT.md D4)
// from the local control plane (`npm start`), looks inside (the two entries; the manifest signed
// by a key in the edge's JWKS and bound to the app, host app and version; the package's hash and
// size), and saves it under its seed name. The full client-side checks of the container (stored
// entries, CRC-32s, no extra data) are `readApkg` in core/offline.ts, which the reference client
// (`node client/cli.mjs --preset <file>`) runs.
//
//   node scripts/download-apkg.mjs [appId] [--host ha_demo_superapp] [--out .] [--email dev@acme.local --password developer-pass]
//
// Without an App ID it takes the demo mini program that `npm start` seeded.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { unzipSync } from "fflate";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { login } from "./lib/api.mjs";
import { ADMIN_URL, DEMO_HOST_APP, demoUser, EDGE_URL, readState } from "./lib/local.mjs";

const developer = demoUser((u) => u.team === "developer");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: "string", default: DEMO_HOST_APP.id },
    out: { type: "string", default: "." },
    email: { type: "string", default: developer.email },
    password: { type: "string", default: developer.password },
  },
});
const appId = positionals[0] ?? readState("demo.json")?.appId;
if (!appId) throw new Error("no App ID given and no demo mini program recorded (run `npm start` first)");

const token = await login(values.email, values.password);
const res = await fetch(
  `${ADMIN_URL}/v1/mini-programs/${appId}/offline-package?hostAppId=${encodeURIComponent(values.host)}`,
  { headers: { authorization: `Bearer ${token}` } },
);
if (res.status !== 200) {
  console.error(`download refused: HTTP ${res.status} ${await res.text()}`);
  process.exit(1);
}
const fileName = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1];
if (!fileName || !/^gc[a-z2-7]+_\d+\.\d+\.\d+\.apkg$/.test(fileName))
  throw new Error(`unexpected file name ${fileName}`);
const bytes = new Uint8Array(await res.arrayBuffer());

// The checks a client makes before trusting a preset (core/offline.ts, header).
const entries = unzipSync(bytes);
const names = Object.keys(entries);
const manifestJws = entries["manifest.jws"];
const pkg = entries["package.zip"];
if (names.join(",") !== "manifest.jws,package.zip" || !manifestJws || !pkg)
  throw new Error(`unexpected entries: ${names.join(", ")}`);
const jwks = createRemoteJWKSet(new URL(`${EDGE_URL}/.well-known/jwks.json`));
const version = fileName.slice(appId.length + 1, -".apkg".length);
const { payload, protectedHeader } = await jwtVerify(new TextDecoder().decode(manifestJws), jwks, {
  issuer: "graycast",
  typ: "graycast-offline+jwt",
  audience: values.host,
  subject: appId,
  algorithms: ["EdDSA"],
});
if (payload.kind !== "offline" || payload.version !== version)
  throw new Error(`manifest is for ${payload.kind} ${payload.version}, the file for ${version}`);
const sha256 = createHash("sha256").update(pkg).digest("hex");
if (sha256 !== payload.package.sha256 || pkg.byteLength !== payload.package.size)
  throw new Error("package.zip does not match the signed manifest");

const path = join(values.out, fileName);
writeFileSync(path, bytes);
console.log(
  `saved ${path} (${bytes.byteLength} bytes): ${appId} ${version} for host app ${values.host}, signed by ${protectedHeader.kid}, package ${sha256}`,
);
