/**
 * Package-level protections in the reference client: developer signatures (PRODUCT.md S2,
 * core/signature.ts) under a "required" policy and without one, and encrypted packages and
 * increments (S3: AES-256-GCM, ciphertext hash signed, plaintext hash and size checked).
 */
import { base64url } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ManifestPackage } from "../../core/manifest";
import type { ClientConfig } from "../src/types";
import { deviceFor, type TestDevice } from "./support/client";
import { type FakeEdge, startFakeEdge } from "./support/edge";
import {
  APP_ID,
  type BuiltVersion,
  buildIncrementBetween,
  buildVersion,
  developerKey,
  encrypt,
  twoVersions,
} from "./support/fixtures";

const { v1, v2 } = await twoVersions();
let dev: Awaited<ReturnType<typeof developerKey>>;
let edge: FakeEdge;
let device: TestDevice;

beforeAll(async () => {
  dev = await developerKey("dev-key-1");
});

afterEach(async () => {
  await edge.close();
  device.cleanup();
});

/** A device with `config`, running v1 (signed by `dev`) installed through a genuine answer. */
async function startWith(config: Partial<ClientConfig>): Promise<void> {
  edge = await startFakeEdge();
  device = deviceFor(edge, config);
  const claims = await edge.claims(v1);
  claims.package!.signature = await dev.sign(APP_ID, v1.version, v1.digest);
  edge.answer(claims);
  await device.client.update();
}

async function offer(version: BuiltVersion, pkg: Partial<ManifestPackage>): Promise<void> {
  const claims = await edge.claims(version);
  claims.package = { ...claims.package!, ...pkg };
  edge.answer(claims);
}

async function expectRefused(code: string): Promise<void> {
  const before = device.contents();
  await expect(device.client.update()).rejects.toMatchObject({ name: "ClientError", code });
  expect(device.contents()).toEqual(before);
  expect((await device.client.open()).version).toBe("1.0.0");
}

describe("developer signatures", () => {
  const required = () => ({ developerKeys: { [dev.kid]: dev.publicJwk }, requireDeveloperSignature: true });

  it("required and missing: signature_required", async () => {
    await startWith(required());
    await offer(v2, {});
    await expectRefused("signature_required");
  });

  it("required and made with a key the app does not pin: signature_required", async () => {
    await startWith(required());
    const stranger = await developerKey("dev-key-unknown");
    await offer(v2, { signature: await stranger.sign(APP_ID, v2.version, v2.digest) });
    await expectRefused("signature_required");
  });

  it.each([
    ["required", true],
    ["not required", false],
  ])(
    "invalid (moved from another version, or garbage), %s: bad_developer_signature",
    async (_, requireDeveloperSignature) => {
      await startWith({ developerKeys: { [dev.kid]: dev.publicJwk }, requireDeveloperSignature });
      await offer(v2, { signature: await dev.sign(APP_ID, v1.version, v2.digest) });
      await expectRefused("bad_developer_signature");
      await offer(v2, {
        signature: { kid: dev.kid, alg: "EdDSA", sig: base64url.encode(new Uint8Array(64)) },
      });
      await expectRefused("bad_developer_signature");
    },
  );

  it("valid EdDSA after a full download and ES256 after an increment: verified", async () => {
    const es = await developerKey("dev-key-es", "ES256");
    await startWith({
      developerKeys: { [dev.kid]: dev.publicJwk, [es.kid]: es.publicJwk },
      requireDeveloperSignature: true,
    });
    expect(await device.client.open()).toMatchObject({ version: "1.0.0" });

    const claims = await edge.claims(v2, {
      increment: await edge.increment(await buildIncrementBetween(v1, v2), v1),
    });
    claims.package!.signature = await es.sign(APP_ID, v2.version, v2.digest);
    edge.answer(claims);
    expect(await device.client.update()).toMatchObject({
      activated: true,
      via: "increment",
      developerSignature: "verified",
    });
  });

  it("not required: a package without one is 'absent', one by an unpinned key 'unverifiable'", async () => {
    await startWith({});
    await offer(v2, {});
    expect(await device.client.update()).toMatchObject({ activated: true, developerSignature: "absent" });
    const v3 = await buildVersion("1.2.0");
    await offer(v3, { signature: await dev.sign(APP_ID, v3.version, v3.digest) });
    expect(await device.client.update()).toMatchObject({
      activated: true,
      developerSignature: "unverifiable",
    });
  });
});

describe("encrypted packages", () => {
  it("an encrypted package is verified as downloaded, decrypted, and its plaintext and files verified", async () => {
    await startWith({});
    const { ciphertext, encryption } = await encrypt(v2.zip);
    const hosted = await edge.host("packages", ciphertext);
    await offer(v2, { url: hosted.url, size: hosted.size, sha256: hosted.sha256, encryption });
    expect(await device.client.update()).toMatchObject({ activated: true, via: "full", version: "1.1.0" });
    const opened = await device.client.open();
    for (const f of v2.list) expect(await opened.read(f.path)).toEqual(v2.bytes.get(f.path));
    expect((await device.client.trustedState()).installed?.package).toBe(hosted.sha256);
  });

  it("a key that does not open the ciphertext: decrypt_failed; a wrong plaintext hash: hash_mismatch", async () => {
    await startWith({});
    const { ciphertext, encryption } = await encrypt(v2.zip);
    const hosted = await edge.host("packages", ciphertext);
    const otherKey = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
    await offer(v2, {
      url: hosted.url,
      size: hosted.size,
      sha256: hosted.sha256,
      encryption: { ...encryption, key: otherKey },
    });
    await expectRefused("decrypt_failed");
    await offer(v2, {
      url: hosted.url,
      size: hosted.size,
      sha256: hosted.sha256,
      encryption: { ...encryption, plainSha256: v1.sha256 },
    });
    await expectRefused("hash_mismatch");
  });

  it("an encrypted increment is decrypted and applied", async () => {
    await startWith({});
    const { ciphertext, encryption } = await encrypt(await buildIncrementBetween(v1, v2));
    const increment = await edge.increment(ciphertext, v1);
    edge.answer(await edge.claims(v2, { increment: { ...increment, encryption } }));
    expect(await device.client.update()).toMatchObject({
      activated: true,
      via: "increment",
      transferred: ciphertext.byteLength,
    });
    const opened = await device.client.open();
    for (const f of v2.list) expect(await opened.read(f.path)).toEqual(v2.bytes.get(f.path));
  });
});
