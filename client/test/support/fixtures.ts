/**
 * Test material for the reference client in Node, built with the same core functions the
 * platform uses: package zips and their file lists, increments (core `buildIncrement` with
 * Node's zstd at level 19), AES-256-GCM encrypted copies, developer signatures, offline presets,
 * and a look at a store directory byte for byte.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { constants, zstdCompressSync } from "node:zlib";
import { zipSync } from "fflate";
import { base64url, exportJWK, generateKeyPair } from "jose";
import { buildDeltaIncrement, buildIncrement, type FileEntry, filesDigest } from "../../../core/increment";
import { APKG_MANIFEST_ENTRY, APKG_PACKAGE_ENTRY } from "../../../core/offline";
import { packageSigningInput } from "../../../core/signature";
import type { DeveloperSignature, PackageEncryption } from "../../../core/snapshot";
import { sha256Hex } from "../../src/bytes";

export const APP_ID = "gcclienttestaaaabbbbcccc";
export const HOST_APP = "ha_clienttest01";

export interface BuiltVersion {
  version: string;
  zip: Uint8Array;
  /** sha256 of the zip */
  sha256: string;
  list: FileEntry[];
  bytes: Map<string, Uint8Array>;
  /** filesDigest(list) */
  digest: string;
}

/** Text that compresses like code: a long shared part plus a version-specific tail. */
function bundle(version: string, lines: number): string {
  let text = "";
  for (let i = 0; i < lines; i++)
    text += `export function handler${i}(input) { return input.map((x) => x * ${i} + ${i % 7}); }\n`;
  return `${text}// build ${version}\n`;
}

/** A mini program version: most bytes shared between versions, some changed, one file added. */
export async function buildVersion(
  version: string,
  extra: Record<string, string> = {},
): Promise<BuiltVersion> {
  const enc = new TextEncoder();
  const texts: Record<string, string> = {
    "app.json": JSON.stringify({ pages: ["pages/index/index"], version }),
    "pages/index/index.js": `Page({ data: { version: "${version}" } });\n`,
    "pages/index/index.wxml": "<view>{{version}}</view>\n",
    "lib/vendor.js": bundle("shared", 400),
    "lib/app.js": bundle(version, 300),
    ...extra,
  };
  const bytes = new Map(Object.entries(texts).map(([path, text]) => [path, enc.encode(text)]));
  const zip = zipSync(Object.fromEntries(bytes), { mtime: new Date("2026-01-01T00:00:00Z") });
  const list: FileEntry[] = [];
  for (const [path, data] of bytes) list.push({ path, size: data.byteLength, sha256: await sha256Hex(data) });
  list.sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    version,
    zip,
    sha256: await sha256Hex(zip),
    list,
    bytes,
    digest: await filesDigest(list, sha256Hex),
  };
}

/** An increment from one built version to another, as the control plane builds it. */
/** The two versions most tests use: 1.0.0, and 1.1.0 with one more page. */
export async function twoVersions(): Promise<{ v1: BuiltVersion; v2: BuiltVersion }> {
  return {
    v1: await buildVersion("1.0.0"),
    v2: await buildVersion("1.1.0", { "pages/new/new.js": "Page({});\n" }),
  };
}

export async function buildIncrementBetween(from: BuiltVersion, to: BuiltVersion): Promise<Uint8Array> {
  const { bytes } = await buildIncrement({
    from: { files: from.list, bytesOf: (p) => from.bytes.get(p)! },
    to: { files: to.list, bytesOf: (p) => to.bytes.get(p)! },
    level: 19,
    compress: (content, dictionary, level) =>
      new Uint8Array(
        zstdCompressSync(content, { dictionary, params: { [constants.ZSTD_c_compressionLevel]: level } }),
      ),
    sha256: sha256Hex,
  });
  return bytes;
}

/** AES-256-GCM with a fresh key and IV; the ciphertext ends with the tag (WebCrypto layout). */
export async function encrypt(
  plain: Uint8Array,
): Promise<{ ciphertext: Uint8Array; encryption: PackageEncryption }> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain));
  return {
    ciphertext,
    encryption: {
      alg: "A256GCM",
      key: base64url.encode(raw),
      iv: base64url.encode(iv),
      plainSha256: await sha256Hex(plain),
      plainSize: plain.byteLength,
    },
  };
}

/** A developer key pair: the public JWK an App pins and a signer for package statements. */
export async function developerKey(kid: string, alg: "EdDSA" | "ES256" = "EdDSA") {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const algorithm = alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
  return {
    kid,
    publicJwk: (await exportJWK(publicKey)) as JsonWebKey,
    async sign(appId: string, version: string, files: string): Promise<DeveloperSignature> {
      const sig = new Uint8Array(
        await crypto.subtle.sign(
          algorithm,
          privateKey as CryptoKey,
          packageSigningInput(appId, version, files),
        ),
      );
      return { kid, alg, sig: base64url.encode(sig) };
    },
  };
}

/** An `.apkg` as the console builds it (core/offline.ts): two stored entries, manifest first. */
export function buildApkg(manifestJws: string, packageZip: Uint8Array): Uint8Array {
  const mtime = new Date("2026-01-01T00:00:00Z");
  return zipSync(
    {
      [APKG_MANIFEST_ENTRY]: [new TextEncoder().encode(manifestJws), { level: 0, mtime }],
      [APKG_PACKAGE_ENTRY]: [packageZip, { level: 0, mtime }],
    },
    { level: 0 },
  );
}

/** Every file under `dir` with its exact bytes (base64), sorted: "the store did not change". */
export function storeContents(dir: string): [string, string][] {
  const out: [string, string][] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push([relative(dir, full), readFileSync(full).toString("base64")]);
    }
  };
  walk(dir);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * The same pair in format 4 (the delta format), as the control plane builds it. With
 * `coding: "delta"` the content is forced to the plain copy/insert delta (no zstd anywhere):
 * a compressor whose every output is larger than its input is never kept.
 */
export async function buildDeltaIncrementBetween(
  from: BuiltVersion,
  to: BuiltVersion,
  options: { coding?: "delta" } = {},
): Promise<Uint8Array> {
  const zstd = (content: Uint8Array, dictionary: Uint8Array, level: number) =>
    new Uint8Array(
      zstdCompressSync(content, { dictionary, params: { [constants.ZSTD_c_compressionLevel]: level } }),
    );
  const { bytes } = await buildDeltaIncrement({
    from: { files: from.list, bytesOf: (p) => from.bytes.get(p)! },
    to: { files: to.list, bytesOf: (p) => to.bytes.get(p)! },
    level: 19,
    compress: options.coding === "delta" ? (content) => new Uint8Array(content.byteLength + 64) : zstd,
    sha256: sha256Hex,
  });
  return bytes;
}
