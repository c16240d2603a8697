/**
 * Files whose names are also names of Object.prototype members ("__proto__", "constructor",
 * "toString", "hasOwnProperty"): a package is unpacked into a Map, so they are files like any
 * other. Unpacked into a plain object, "__proto__" became the object's prototype instead of an
 * entry, the file list lost it, and a fresh install failed its signed file list.
 *
 * The zip is written with fflate's streaming `Zip` (names passed as strings, never as object
 * keys, which would lose "__proto__" in the writer too), with data descriptors as streaming zip
 * tools write them.
 */
import { Zip, ZipDeflate } from "fflate";
import { describe, expect, it } from "vitest";
import { type FileEntry, filesDigest } from "../../core/increment";
import { sha256Hex } from "../src/bytes";
import { unpackPackage } from "../src/package";
import { freshEdgeAndDevice } from "./support/client";
import type { BuiltVersion } from "./support/fixtures";

const enc = new TextEncoder();

async function versionWith(version: string, files: [string, string][]): Promise<BuiltVersion> {
  const parts: Uint8Array[] = [];
  const zip = new Zip((error, chunk) => {
    if (error) throw error;
    parts.push(chunk);
  });
  for (const [path, text] of files) {
    const entry = new ZipDeflate(path, { level: 6 });
    zip.add(entry);
    entry.push(enc.encode(text), true);
  }
  zip.end();
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  const map = new Map(files.map(([path, text]) => [path, enc.encode(text)]));
  const list: FileEntry[] = [];
  for (const [path, data] of map) list.push({ path, size: data.byteLength, sha256: await sha256Hex(data) });
  list.sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    version,
    zip: bytes,
    sha256: await sha256Hex(bytes),
    list,
    bytes: map,
    digest: await filesDigest(list, sha256Hex),
  };
}

const FILES: [string, string][] = [
  ["app.json", '{"pages":["pages/index/index"]}'],
  ["__proto__", "a file named __proto__"],
  ["constructor", "a file named constructor"],
  ["toString", "a file named toString"],
  ["pages/__proto__/hasOwnProperty.js", "Page({});"],
];

describe("packages with files named like Object.prototype members", () => {
  const t = freshEdgeAndDevice();

  it("unpackPackage lists and keeps every file", async () => {
    const v = await versionWith("1.0.0", FILES);
    const unpacked = await unpackPackage(v.zip);
    expect(unpacked.list.map((f) => f.path)).toEqual([
      "__proto__",
      "app.json",
      "constructor",
      "pages/__proto__/hasOwnProperty.js",
      "toString",
    ]);
    expect(unpacked.digest).toBe(v.digest);
    expect(new TextDecoder().decode(unpacked.bytes.get("__proto__"))).toBe("a file named __proto__");
    expect(new TextDecoder().decode(unpacked.bytes.get("constructor"))).toBe("a file named constructor");
  });

  it("a fresh install of such a package activates, and every file opens", async () => {
    const v = await versionWith("1.0.0", FILES);
    t.edge.answer(await t.edge.claims(v));
    expect(await t.device.client.update()).toMatchObject({
      plan: "install",
      activated: true,
      version: "1.0.0",
    });
    const opened = await t.device.client.open();
    expect(opened.files.map((f) => f.path)).toEqual([
      "__proto__",
      "app.json",
      "constructor",
      "pages/__proto__/hasOwnProperty.js",
      "toString",
    ]);
    for (const [path, text] of FILES) expect(new TextDecoder().decode(await opened.read(path))).toBe(text);
  });
});
