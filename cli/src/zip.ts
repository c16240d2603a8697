/**
 * Packages for upload. A folder is zipped deterministically: entries sorted by path (code-unit
 * order, as core/package-archive.ts lists them), every time stamp 1980-01-01 00:00 (the zip
 * epoch), fixed attributes, one compression level; the same folder always gives the same bytes
 * and sha256. The result (or a given zip) is then vetted with the server's own rules and limits
 * (core/package-archive.ts, the 32 MiB body limit of control-plane/src/services/versions.ts)
 * before anything is sent, so a refusal costs no upload.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { Zip, ZipDeflate } from "fflate";
import { formatBytes, inspectPackage, type PackageInspection } from "../../core/package-archive";
import { UsageError } from "./errors";

/** The admin API's package body limit (MAX_PACKAGE_BYTES, control-plane/src/services/versions.ts). */
export const MAX_PACKAGE_BYTES = 32 * 1024 * 1024;
const ZIP_EPOCH = new Date(1980, 0, 1, 0, 0, 0);
/** Never packaged: version control and desktop litter. */
const SKIPPED = new Set([".git", ".svn", ".hg", ".DS_Store", "__MACOSX", "Thumbs.db", "node_modules"]);

export interface FolderEntry {
  path: string;
  absolute: string;
}

/** Regular files under `dir`, sorted by their zip path; symbolic links are refused. */
export function listFolder(dir: string): FolderEntry[] {
  const files: FolderEntry[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      if (SKIPPED.has(name)) continue;
      const absolute = join(at, name);
      const st = statSync(absolute, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(absolute);
      else if (st.isFile()) files.push({ path: relative(dir, absolute).split(sep).join("/"), absolute });
    }
  };
  walk(dir);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function zipFolder(dir: string): Uint8Array {
  const entries = listFolder(dir);
  if (!entries.length) throw new UsageError(`${dir} has no files to package`);
  // fflate's streaming Zip adds entries in exactly the order given (an object of paths would put
  // integer-like names first); ZipDeflate compresses synchronously, so this returns complete.
  const chunks: Uint8Array[] = [];
  const zip = new Zip((error, chunk) => {
    if (error) throw error;
    chunks.push(chunk);
  });
  for (const e of entries) {
    const file = new ZipDeflate(e.path, { level: 6 });
    file.mtime = ZIP_EPOCH;
    file.os = 3; // Unix
    file.attrs = 0o100644 << 16; // a regular file, rw-r--r--
    zip.add(file);
    file.push(new Uint8Array(readFileSync(e.absolute)), true);
  }
  zip.end();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export interface PreparedPackage {
  zip: Uint8Array;
  inspection: PackageInspection;
  /** "folder" when zipped here. */
  source: "folder" | "zip";
}

/** Reads or makes the zip for `path` and checks it as the server will. */
export async function preparePackage(path: string): Promise<PreparedPackage> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new UsageError(`${path}: no such file or folder`);
  const source = st.isDirectory() ? "folder" : "zip";
  const zip = source === "folder" ? zipFolder(path) : new Uint8Array(readFileSync(path));
  if (zip.byteLength > MAX_PACKAGE_BYTES)
    throw new UsageError(
      `${path}: the package is ${formatBytes(zip.byteLength)}; the server takes at most ${formatBytes(MAX_PACKAGE_BYTES)}`,
    );
  try {
    return { zip, inspection: await inspectPackage(zip), source };
  } catch (error) {
    // The same message the server would answer with (core/package-archive.ts).
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
}
