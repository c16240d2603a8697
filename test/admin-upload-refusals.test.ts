/**
 * Package uploads the review found accepted (issue 10, "smaller defects"): file names with
 * bidirectional-control or zero-width characters, and concatenated zip archives. Through the
 * real upload route each gets 422 `bad_package` with a message naming the entry or the extra
 * bytes, and nothing is stored (no version, no package in R2). The archive rules themselves are
 * table-tested in test/package-archive.test.ts.
 */
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { testEnv } from "./env";
import {
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  upload,
  type World,
} from "./support/admin";

const enc = new TextEncoder();
const concat = (a: Uint8Array, b: Uint8Array) => new Uint8Array([...a, ...b]);

describe("uploads with names that display as something else, or archives that hide another", () => {
  let world: World;
  beforeAll(async () => {
    world = await makeWorld();
  });

  async function expectRefused(zip: Uint8Array, message: RegExp) {
    const appId = await makeMiniProgram(world);
    expect(await expectError(upload(world.devA.token, appId, "1.0.0", zip), 422, "bad_package")).toMatch(
      message,
    );
    const list = await expectJson<{ versions: unknown[] }>(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions`, { token: world.devA.token }),
      200,
    );
    expect(list.versions).toEqual([]);
  }

  it("refuses a right-to-left override in a file name, naming the entry", async () => {
    // Shows as "pages/invoicesj.txt" in a file list: a script named to look like text.
    const zip = zipSync({ "app.json": enc.encode("{}"), "pages/invoice\u202Etxt.js": enc.encode("steal()") });
    await expectRefused(
      zip,
      /^"pages\/invoice\\u202Etxt\.js": path contains an invisible or bidirectional-control character \(U\+202E\)/,
    );
  });

  it("refuses a zero-width character in a name (a twin of another file)", async () => {
    const zip = zipSync({ "app.json": enc.encode("{}"), "app\u200B.json": enc.encode('{"pages":["evil"]}') });
    await expectRefused(
      zip,
      /^"app\\u200B\.json": path contains an invisible or bidirectional-control character \(U\+200B\)/,
    );
  });

  it("refuses a second archive appended to a package, and bytes after its end", async () => {
    const extra = zipSync({ "payload.js": enc.encode("evil()") });
    await expectRefused(
      concat(makePackage("1.0.0"), extra),
      /bytes before the archive \(another archive or data prepended\)$/,
    );
    await expectRefused(
      concat(makePackage("1.0.0"), enc.encode("trailing")),
      /^8 bytes after the end of the archive/,
    );
  });

  it("refuses a package with another archive prepended", async () => {
    const before = await testEnv.PACKAGES.list({ prefix: "packages/" });
    await expectRefused(
      concat(zipSync({ "payload.js": enc.encode("evil()") }), makePackage("1.0.0")),
      /bytes before the archive/,
    );
    const after = await testEnv.PACKAGES.list({ prefix: "packages/" });
    expect(after.objects.length).toBe(before.objects.length);
  });
});
