// Real multi-version packages from the npm registry for the increments benchmark
// (bench/increments.mjs): download each pinned tarball once into bench/.cache/npm/, check it
// against the integrity pinned here and (when freshly downloaded) the registry's own
// `dist.integrity`, and unpack it with Node's gunzip and the small tar reader below. No
// dependency beyond Node.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export const REGISTRY = "https://registry.npmjs.org";

/** `sha512-<base64>` (npm's Subresource-Integrity form) of `bytes`. */
export const sriSha512 = (bytes) => `sha512-${createHash("sha512").update(bytes).digest("base64")}`;

const cacheName = (name, version) => `${name.replace(/^@/, "").replace(/\//g, "__")}-${version}.tgz`;
const encodedName = (name) => name.replace("/", "%2F");

async function fetchOk(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status}`);
  return res;
}

/**
 * The tarball of `name@version`: from the cache when present (checked against `integrity`), else
 * downloaded. A download is checked against the registry's `dist.integrity` for that version and
 * against the pinned `integrity`; a mismatch with either throws, and nothing is cached.
 * Returns { bytes, source: "cache" | "registry" }.
 */
/**
 * @param {string} cacheDir
 * @param {{ name: string, version: string, integrity: string }} pin
 * @param {(line: string) => void} [log]
 */
export async function tarball(cacheDir, { name, version, integrity }, log = () => {}) {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, cacheName(name, version));
  if (existsSync(file)) {
    const bytes = readFileSync(file);
    const got = sriSha512(bytes);
    if (got === integrity) return { bytes, source: "cache" };
    log(
      `${name}@${version}: cached tarball fails its integrity check (${got.slice(0, 24)}...), downloading again`,
    );
  }
  const meta = /** @type {{ dist?: { integrity?: string, tarball: string, shasum?: string } }} */ (
    await (await fetchOk(`${REGISTRY}/${encodedName(name)}/${version}`)).json()
  );
  const registryIntegrity = meta?.dist?.integrity;
  if (registryIntegrity !== integrity) {
    throw new Error(
      `${name}@${version}: the registry's dist.integrity (${registryIntegrity}) differs from the pinned one (${integrity})`,
    );
  }
  const url = meta.dist?.tarball;
  if (!url) throw new Error(`${name}@${version}: the registry names no tarball`);
  log(`${name}@${version}: downloading ${url}`);
  const bytes = Buffer.from(await (await fetchOk(url)).arrayBuffer());
  const got = sriSha512(bytes);
  if (got !== integrity)
    throw new Error(
      `${name}@${version}: the tarball's sha512 (${got}) differs from dist.integrity (${integrity})`,
    );
  if (meta.dist?.shasum && createHash("sha1").update(bytes).digest("hex") !== meta.dist.shasum) {
    throw new Error(`${name}@${version}: the tarball's sha1 differs from dist.shasum`);
  }
  writeFileSync(`${file}.part`, bytes);
  renameSync(`${file}.part`, file);
  return { bytes, source: "registry" };
}

/**
 * Whether `versions` are adjacent in the registry's list of `name`'s releases (pre-releases
 * left out, registry order). One request (the abbreviated packument); returns
 * { ok, listed, between } where `between` names releases the registry has between them.
 */
export async function checkConsecutive(name, versions) {
  const res = await fetchOk(`${REGISTRY}/${encodedName(name)}`, {
    headers: { accept: "application/vnd.npm.install-v1+json" },
  });
  const doc = /** @type {{ versions?: Record<string, unknown> }} */ (await res.json());
  const releases = Object.keys(doc.versions ?? {})
    .filter((v) => !v.includes("-"))
    .sort(compareSemver);
  const at = versions.map((v) => releases.indexOf(v));
  if (at.some((i) => i < 0))
    return { ok: false, listed: releases.length, between: [], missing: versions.filter((_, i) => at[i] < 0) };
  const between = [];
  for (let i = 1; i < at.length; i++) between.push(...releases.slice(at[i - 1] + 1, at[i]));
  return { ok: between.length === 0, listed: releases.length, between };
}

function compareSemver(a, b) {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

// ---------------------------------------------------------------- tar

const decoder = new TextDecoder();

function cString(block, start, length) {
  let end = start;
  while (end < start + length && block[end] !== 0) end++;
  return decoder.decode(block.subarray(start, end));
}

function octal(block, start, length) {
  // GNU base-256 for sizes >= 8 GiB: the high bit of the first byte is set (never in npm packages).
  if (block[start] & 0x80) throw new Error("tar: base-256 sizes are not supported");
  const text = cString(block, start, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

/** Key/value records of a pax extended header ("<len> <key>=<value>\n"). */
function paxRecords(data) {
  const out = {};
  let at = 0;
  while (at < data.length) {
    let sp = at;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = parseInt(decoder.decode(data.subarray(at, sp)), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = decoder.decode(data.subarray(sp + 1, at + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/**
 * The regular files of a (ustar / pax / GNU long-name) tar archive as a Map path -> bytes, in
 * archive order. Directories, links and other entries are skipped; the checksum of every
 * header is verified.
 */
export function untar(archive) {
  const files = new Map();
  let at = 0;
  let pax = {};
  let longName;
  while (at + 512 <= archive.length) {
    const block = archive.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
    if (sum !== octal(block, 148, 8)) throw new Error(`tar: bad header checksum at offset ${at}`);
    const size = octal(block, 124, 12);
    const type = String.fromCharCode(block[156] || 0x30);
    const data = archive.subarray(at + 512, at + 512 + size);
    if (data.length !== size) throw new Error("tar: archive cut short");
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      pax = paxRecords(data);
      continue;
    }
    if (type === "g") continue;
    if (type === "L") {
      longName = cString(data, 0, data.length);
      continue;
    }
    const prefix = decoder.decode(block.subarray(257, 263)).startsWith("ustar")
      ? cString(block, 345, 155)
      : "";
    const name =
      pax.path ?? longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
    pax = {};
    longName = undefined;
    if (type !== "0" && type !== "7") continue;
    files.set(name, new Uint8Array(data));
  }
  return files;
}

/**
 * The files of an npm tarball as [{ path, bytes }] sorted by path, with the archive's top folder
 * (`package/` for nearly every package) removed.
 */
export function npmFiles(tgz) {
  const entries = untar(gunzipSync(tgz));
  const out = [];
  for (const [name, bytes] of entries) {
    const path = name.replace(/^\.?\/?[^/]+\//, "");
    if (path === "" || path.endsWith("/")) continue;
    out.push({ path, bytes });
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < out.length; i++)
    if (out[i].path === out[i - 1].path) throw new Error(`tar: ${out[i].path} appears twice`);
  return out;
}
