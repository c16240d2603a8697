#!/usr/bin/env node
// Generates a signing key pair as JWKs.
//
//   node scripts/gen-signing-key.mjs [--kid KID] [--out FILE]
//       A platform manifest key (Ed25519, PRODUCT.md S1) with a fresh kid, for
//       MANIFEST_SIGNING_KEY; rotation steps in docs/key-rotation.md.
//   node scripts/gen-signing-key.mjs --developer [--alg EdDSA|ES256] [--out FILE]
//       A developer key (PRODUCT.md S2): register "public" with
//       POST /v1/teams/{teamId}/signing-keys, sign uploads with scripts/sign-package.mjs.
//
// Prints {"kid"?, "alg", "private": JWK, "public": JWK} as JSON on stdout. With --out FILE the
// whole object goes to FILE (created with mode 0600, never overwritten) and only the public JWK
// is printed. The private JWK is the secret: keep it off shared disks and out of version control.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const usage =
  "usage: gen-signing-key.mjs [--kid KID] [--out FILE] | --developer [--alg EdDSA|ES256] [--out FILE]";

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`gen-signing-key: ${message}\n${usage}`);
  process.exit(2);
}

const options = parseOptions();

/** The flags; an unknown or malformed one fails with the usage line. */
function parseOptions() {
  try {
    return parseArgs({
      options: {
        developer: { type: "boolean", default: false },
        alg: { type: "string" },
        kid: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}

const alg = options.alg ?? "EdDSA";
if (alg !== "EdDSA" && alg !== "ES256") fail(`--alg must be EdDSA or ES256, not ${JSON.stringify(alg)}`);
if (!options.developer && alg !== "EdDSA") fail("platform manifest keys are Ed25519 (EdDSA) only");
if (options.developer && options.kid !== undefined)
  fail("a developer key's kid is the id the control plane assigns when the key is registered");
if (options.kid !== undefined && !/^[\x21-\x7e]{1,128}$/.test(options.kid))
  fail("--kid must be 1 to 128 printable ASCII characters without spaces");

const { privateKey } =
  alg === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = privateKey.export({ format: "jwk" });
const publicOnly =
  jwk.kty === "OKP"
    ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x }
    : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };

let result;
if (options.developer) {
  result = { alg, private: { ...publicOnly, d: jwk.d, alg }, public: publicOnly };
} else {
  // Date first so kids sort by age in logs and JWKS listings; random suffix so two keys made the same day differ.
  const kid =
    options.kid ??
    `gc-${new Date().toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(4).toString("hex")}`;
  result = {
    kid,
    alg,
    private: { ...publicOnly, d: jwk.d, kid },
    public: { ...publicOnly, kid, alg, use: "sig" },
  };
}

if (options.out !== undefined) {
  try {
    writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    const code = error instanceof Error && "code" in error ? error.code : undefined;
    fail(
      code === "EEXIST"
        ? `${options.out} exists; refusing to overwrite a key file`
        : error instanceof Error
          ? error.message
          : String(error),
    );
  }
  console.log(JSON.stringify(result.public));
  console.error(
    `gen-signing-key: wrote the key pair to ${options.out} (mode 0600)${result.kid ? `, kid ${result.kid}` : ""}`,
  );
} else {
  console.log(JSON.stringify(result));
}
