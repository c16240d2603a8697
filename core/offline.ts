/**
 * Offline packages (PRODUCT.md D4; seed "Offline Applet"): the `.apkg` a host app developer
 * downloads from the console and ships inside the App, so the mini program opens without a
 * network. Pure: no bindings, no dependencies; shared by the control plane (which builds the
 * file), the edge (which signs its manifest) and clients (which read and verify it).
 *
 * Naming (seed, exact): `{miniAppId}_{miniAppVersion}.apkg`, e.g. `gcaaaabbbbccccdddd_1.2.0.apkg`.
 * App IDs never contain "_" (`gc[a-z2-7]+`), so the first "_" splits the name unambiguously.
 *
 * File format `graycast-apkg/1`: a zip archive whose entries are all STORED (method 0, no
 * compression, no encryption, no data descriptor, no zip64, no archive comment), with exactly
 * two entries, in this order:
 *
 *   1. `manifest.jws`  a compact JWS (ASCII), `alg` EdDSA (Ed25519), protected header
 *                      `typ: "graycast-offline+jwt"` and `kid`, signed by the PLATFORM manifest
 *                      signing key, the same key set the edge publishes at
 *                      `/.well-known/jwks.json`. Claims: `OfflineManifestClaims` below.
 *   2. `package.zip`   the version's full package, byte-identical to what the edge serves at
 *                      `/v1/packages/{sha256}` (so `sha256`/`size` in the claims describe it).
 *
 * A client verifies, in order: (a) `readApkg` accepts the file; (b) the JWS verifies against a
 * pinned platform key named by `kid`, with `typ` exactly `graycast-offline+jwt` (a check
 * manifest, `graycast-manifest+jwt`, is never accepted as an offline one and vice versa);
 * (c) `iss` "graycast", `kind` "offline", `sub` equals the App ID and `version` the version in
 * the file name, `aud` equals its own host app id; (d) SHA-256 and size of `package.zip` equal
 * `package.sha256` / `package.size`; (e) when `package.signature` is present, the developer
 * signature as for any package (core/signature.ts) over `package.files`.
 *
 * No `exp`, on purpose. A preset is a baseline bundled into an App binary that may be opened
 * months later with no network; an expiring manifest would make the preset unusable exactly
 * when it is needed (seed: "can be opened and run even without a network connection"). Freeze
 * and rollback protection (S4) come from the online check instead: whenever the client is
 * online it asks `/v1/check` (GET or POST) with `installedVersion` = the preset's version, and that
 * answer, which does expire, wins: a different online version is pulled normally, "delisted"
 * makes the preset unusable (seed rules, below). A client must therefore (1) never switch from
 * a version it already installed through check to a preset of a lower version (the preset is a
 * first-run baseline, not a downgrade path), and (2) remember a signed `delisted` answer and
 * refuse the preset afterwards. `iat` records when the console built the file.
 *
 * Seed rules (quoted): "Only online mini programs can download offline packages"; "When the
 * online version is inconsistent with the preset version, the client will pull the online
 * version normally"; "When a mini program is removed from the shelves, the corresponding
 * offline mini program preset in the App cannot be used normally".
 *
 * Encrypted versions (S3) are not offered offline yet: the console refuses them with 409.
 */
import { crc32 } from "./bytes";
import type { MANIFEST_ISSUER, ManifestPackage } from "./manifest";

export const APKG_EXTENSION = ".apkg";
export const APKG_MANIFEST_ENTRY = "manifest.jws";
export const APKG_PACKAGE_ENTRY = "package.zip";
/** Entry order in the archive. */
export const APKG_ENTRIES = [APKG_MANIFEST_ENTRY, APKG_PACKAGE_ENTRY] as const;
export const OFFLINE_MANIFEST_TYPE = "graycast-offline+jwt";
export const OFFLINE_KIND = "offline";

/** Largest package the console accepts (control-plane MAX_PACKAGE_BYTES, 32 MiB). */
export const MAX_APKG_PACKAGE_BYTES = 32 * 1024 * 1024;
/** A signed offline manifest is well under 4 KiB; anything near this is not ours. */
export const MAX_APKG_MANIFEST_BYTES = 64 * 1024;
/** Two local headers, two central entries and the end record, with room for short names. */
const ZIP_OVERHEAD_MAX = 1024;
export const MAX_APKG_BYTES = MAX_APKG_PACKAGE_BYTES + MAX_APKG_MANIFEST_BYTES + ZIP_OVERHEAD_MAX;

/** What the preset's package is; the same meaning as in a check manifest, without a URL. */
export type OfflinePackage = Pick<ManifestPackage, "sha256" | "size" | "files" | "signature">;

export interface OfflineManifestClaims {
  iss: typeof MANIFEST_ISSUER;
  /** mini program App ID */
  sub: string;
  /** host app id the preset is for (its binding to the mini program was approved) */
  aud: string;
  /** seconds since epoch: when the console built the file */
  iat: number;
  /** the mini program version inside; the online version when the file was built */
  version: string;
  package: OfflinePackage;
  kind: typeof OFFLINE_KIND;
}

const APP_ID = /^gc[a-z2-7]{16,40}$/;
const VERSION = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

/** The seed's file name: `{miniAppId}_{miniAppVersion}.apkg`. */
export function apkgFileName(appId: string, version: string): string {
  return `${appId}_${version}${APKG_EXTENSION}`;
}

/** Reads a preset's file name back; `undefined` unless it is exactly `apkgFileName(...)`. */
export function parseApkgFileName(name: string): { appId: string; version: string } | undefined {
  if (!name.endsWith(APKG_EXTENSION)) return undefined;
  const stem = name.slice(0, -APKG_EXTENSION.length);
  const cut = stem.indexOf("_");
  if (cut < 0) return undefined;
  const appId = stem.slice(0, cut);
  const version = stem.slice(cut + 1);
  return APP_ID.test(appId) && VERSION.test(version) ? { appId, version } : undefined;
}

/** A file that is not a well-formed `.apkg`; `message` says which rule it broke. */
export class ApkgFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApkgFormatError";
  }
}

export interface ApkgContents {
  /** the compact JWS text, not verified */
  manifest: string;
  /** the package bytes (a view into the input) */
  packageZip: Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const END_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
/** General purpose flags allowed: bit 11 (UTF-8 names) only. */
const ALLOWED_FLAGS = 0x0800;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Splits an `.apkg` into its manifest and package, checking the container rules above and the
 * CRC-32 of both entries. It does NOT verify the signature or the claims: that is the client's
 * job (see the steps in the header), with its pinned keys. Throws `ApkgFormatError`.
 */
export function readApkg(bytes: Uint8Array): ApkgContents {
  const fail = (why: string): never => {
    throw new ApkgFormatError(`not a valid .apkg: ${why}`);
  };
  if (bytes.length > MAX_APKG_BYTES) fail(`larger than ${MAX_APKG_BYTES} bytes`);
  if (bytes.length < END_SIZE) fail("too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);

  // End of central directory: exactly the last 22 bytes (no archive comment allowed).
  const end = bytes.length - END_SIZE;
  if (u32(end) !== SIG_END) fail("no end of central directory record (or an archive comment)");
  if (u16(end + 4) !== 0 || u16(end + 6) !== 0) fail("multi-disk archive");
  const count = u16(end + 10);
  if (u16(end + 8) !== count || count !== APKG_ENTRIES.length)
    fail(`must have exactly ${APKG_ENTRIES.length} entries`);
  const cdSize = u32(end + 12);
  const cdOffset = u32(end + 16);
  if (cdOffset + cdSize !== end) fail("central directory is not right before its end record");

  const found = new Map<string, Uint8Array>();
  let at = cdOffset;
  let dataEnd = 0;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_SIZE > end || u32(at) !== SIG_CENTRAL) fail("broken central directory");
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const crc = u32(at + 16);
    const packed = u32(at + 20);
    const size = u32(at + 24);
    const nameLen = u16(at + 28);
    const extraLen = u16(at + 30);
    const commentLen = u16(at + 32);
    const localAt = u32(at + 42);
    const next = at + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > end) fail("broken central directory");
    const name = latin1(bytes.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLen));
    const expected = APKG_ENTRIES[i];
    if (name !== expected) fail(`entry ${i + 1} must be "${expected}"`);
    if ((flags & ~ALLOWED_FLAGS) !== 0) fail(`"${name}" uses encryption or a data descriptor`);
    if (method !== 0 || packed !== size) fail(`"${name}" must be stored without compression`);
    if (size === 0xffffffff || localAt === 0xffffffff) fail("zip64 is not allowed");
    const limit = name === APKG_MANIFEST_ENTRY ? MAX_APKG_MANIFEST_BYTES : MAX_APKG_PACKAGE_BYTES;
    if (size > limit) fail(`"${name}" is larger than ${limit} bytes`);

    // The local header must agree with the central one; entries must not overlap.
    if (localAt < dataEnd || localAt + LOCAL_SIZE > cdOffset || u32(localAt) !== SIG_LOCAL)
      fail(`"${name}" has no local header where announced`);
    const localName = u16(localAt + 26);
    const localExtra = u16(localAt + 28);
    if (u16(localAt + 6) !== flags || u16(localAt + 8) !== 0 || localName !== nameLen)
      fail(`"${name}" local header disagrees with the central directory`);
    if (u32(localAt + 14) !== crc || u32(localAt + 18) !== size || u32(localAt + 22) !== size)
      fail(`"${name}" local header disagrees with the central directory`);
    if (latin1(bytes.subarray(localAt + LOCAL_SIZE, localAt + LOCAL_SIZE + nameLen)) !== name)
      fail(`"${name}" local header names another file`);
    const dataAt = localAt + LOCAL_SIZE + nameLen + localExtra;
    if (dataAt + size > cdOffset) fail(`"${name}" runs into the central directory`);
    const data = bytes.subarray(dataAt, dataAt + size);
    if (crc32(data) !== crc) fail(`"${name}" fails its CRC-32`);
    found.set(name, data);
    dataEnd = dataAt + size;
    at = next;
  }
  if (at !== end) fail("trailing bytes in the central directory");

  const manifest = latin1(found.get(APKG_MANIFEST_ENTRY)!);
  if (!COMPACT_JWS.test(manifest)) fail(`"${APKG_MANIFEST_ENTRY}" is not a compact JWS`);
  const packageZip = found.get(APKG_PACKAGE_ENTRY)!;
  if (packageZip.length === 0) fail(`"${APKG_PACKAGE_ENTRY}" is empty`);
  return { manifest, packageZip };
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
