#!/usr/bin/env node
// Signs a code package for upload (PRODUCT.md S2, custom signature verification) and prints the
// value of the `x-graycast-signature` upload header: `<keyId>:<alg>:<base64url signature>`.
//
//   node scripts/sign-package.mjs --zip app.zip --app-id gc... --version 1.2.0 --key dev-key.json [--kid sk_...]
//
// --key is a private JWK (Ed25519 -> EdDSA, P-256 -> ES256), or the whole output of
// `gen-signing-key.mjs --developer`. --kid is the key id the control plane returned when the
// public key was registered (default: the JWK's own "kid").
//
// What is signed is core/signature.ts packageSigningInput(appId, version, filesSha256), where
// filesSha256 is core/increment.ts filesDigest over the zip's regular files. To compute exactly
// what the control plane computes, this script bundles the control plane's own code (zip
// inspection, files digest, signing input) with esbuild and runs it: a zip the upload would
// refuse is refused here too, with the same message.
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const usage =
  "usage: sign-package.mjs --zip FILE --app-id APP_ID --version X.Y.Z --key PRIVATE_JWK_FILE [--kid KEY_ID]";

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`sign-package: ${message}\n${usage}`);
  process.exit(2);
}

/**
 * @typedef {object} Core the control plane's own package code this script runs
 * @property {typeof import("../control-plane/src/lib/package-archive").inspectPackage} inspectPackage
 * @property {typeof import("../control-plane/src/lib/encoding").sha256Hex} sha256Hex
 * @property {typeof import("../core/increment").filesDigest} filesDigest
 * @property {typeof import("../core/signature").packageSigningInput} packageSigningInput
 * @property {typeof import("../core/semver").isSemver} isSemver
 */

/**
 * The control plane's package code, compiled from TypeScript for Node.
 * @returns {Promise<Core>}
 */
async function loadCore() {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const entry = [
    'export { inspectPackage } from "./control-plane/src/lib/package-archive";',
    'export { sha256Hex } from "./control-plane/src/lib/encoding";',
    'export { filesDigest } from "./core/increment";',
    'export { packageSigningInput } from "./core/signature";',
    'export { isSemver } from "./core/semver";',
  ].join("\n");
  const out = await build({
    stdin: { contents: entry, resolveDir: root, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
  });
  // A real file (not a data: URL) so that stack traces stay readable; removed once loaded.
  const dir = mkdtempSync(join(tmpdir(), "graycast-sign-"));
  try {
    const [bundle] = out.outputFiles;
    if (!bundle) throw new Error("esbuild produced no bundle");
    writeFileSync(join(dir, "core.mjs"), bundle.text);
    return await import(pathToFileURL(join(dir, "core.mjs")).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = parseOptions();

/** The flags; an unknown or malformed one fails with the usage line. */
function parseOptions() {
  try {
    return parseArgs({
      options: {
        zip: { type: "string" },
        "app-id": { type: "string" },
        version: { type: "string" },
        key: { type: "string" },
        kid: { type: "string" },
      },
      strict: true,
    }).values;
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}

/**
 * A required flag's value; a missing one fails with the usage line.
 * @param {"zip" | "app-id" | "version" | "key"} name
 * @returns {string}
 */
function required(name) {
  return args[name] ?? fail(`--${name} is required`);
}
const zip = required("zip");
const appId = required("app-id");
const version = required("version");
const keyFile = required("key");

const core = await loadCore();
if (!/^gc[a-z2-7]{16,40}$/.test(appId)) fail(`${JSON.stringify(appId)} is not an App ID`);
if (version.length > 20 || !core.isSemver(version))
  fail(`${JSON.stringify(version)} is not a version MAJOR.MINOR.PATCH`);

let jwk;
try {
  const parsed = JSON.parse(readFileSync(keyFile, "utf8"));
  jwk = parsed.private ?? parsed;
} catch (error) {
  fail(`cannot read the key: ${error instanceof Error ? error.message : String(error)}`);
}
if (typeof jwk?.d !== "string") fail('--key must be a private JWK (with "d")');
const alg =
  jwk.kty === "OKP" && jwk.crv === "Ed25519"
    ? "EdDSA"
    : jwk.kty === "EC" && jwk.crv === "P-256"
      ? "ES256"
      : fail("the key must be Ed25519 (OKP) or P-256 (EC)");
const kid = args.kid ?? jwk.kid;
if (typeof kid !== "string" || !/^sk_[a-z2-7]{16}$/.test(kid))
  fail("give --kid: the key id (sk_...) the control plane returned when the public key was registered");

let inspection;
try {
  inspection = await core.inspectPackage(new Uint8Array(readFileSync(zip)));
} catch (error) {
  fail(`${zip}: ${error instanceof Error ? error.message : String(error)}`);
}
const filesSha256 = await core.filesDigest(inspection.files, core.sha256Hex);
const input = core.packageSigningInput(appId, version, filesSha256);

const { kid: _kid, alg: _alg, ...material } = jwk;
const privateKey = createPrivateKey({ key: material, format: "jwk" });
// Ed25519 takes no digest; ES256 is ECDSA P-256 over SHA-256 in JWS's raw r||s form (64 bytes).
const signature =
  alg === "EdDSA"
    ? sign(null, input, privateKey)
    : sign("sha256", input, { key: privateKey, dsaEncoding: "ieee-p1363" });
const publicKey = createPublicKey(privateKey);
const ok =
  alg === "EdDSA"
    ? verify(null, input, publicKey, signature)
    : verify("sha256", input, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature);
if (!ok || signature.length !== 64)
  fail("internal error: the signature does not verify with the key's own public half");

console.error(
  `sign-package: ${inspection.files.length} files, filesSha256 ${filesSha256}, ${alg} key ${kid}`,
);
console.log(`${kid}:${alg}:${signature.toString("base64url")}`);
