/**
 * The version lifecycle (PRODUCT.md V1-V6, M4), each rule with the seed sentence it enforces.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { snapshotKey } from "../core/snapshot";
import { testEnv } from "./env";
import {
  approveVersion,
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  publish,
  upload,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const overview = (token: string, appId: string) =>
  expectJson<any>(callAdmin("GET", `/v1/mini-programs/${appId}/overview`, { token }), 200);

describe("upload (V1)", () => {
  it("stores the zip under its sha256 with a file manifest and makes it the development version", async () => {
    const appId = await makeMiniProgram(world);
    const zip = makePackage("1.0.0");
    const v = await expectJson<any>(upload(world.devA.token, appId, "1.0.0", zip), 201);
    expect(v.status).toBe("development");
    const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", zip))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    expect(v.package).toMatchObject({ sha256: sha, size: zip.byteLength, fileCount: 3 });
    const stored = await testEnv.PACKAGES.get(`packages/${sha}`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(zip);
    const details = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions/1.0.0`, { token: world.viewerA.token }),
      200,
    );
    expect(details.files.map((f: any) => f.path)).toEqual([
      "app.json",
      "pages/index/index.js",
      "pages/index/index.wxml",
    ]);
    expect(details.files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a new upload replaces the unsubmitted development version", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    await expectJson(upload(world.devA.token, appId, "1.0.1"), 201);
    const list = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions`, { token: world.devA.token }),
      200,
    );
    expect(list.versions.map((v: any) => [v.version, v.status])).toEqual([["1.0.1", "development"]]);
  });

  it("refuses a broken, empty or path-traversing archive, a wrong content type, a bad version and an oversized declared body", async () => {
    const appId = await makeMiniProgram(world);
    await expectError(
      upload(world.devA.token, appId, "1.0.0", new TextEncoder().encode("this is not a zip")),
      422,
      "bad_package",
    );
    await expectError(upload(world.devA.token, appId, "1.0.0", new Uint8Array()), 422, "bad_package");
    const { zipSync } = await import("fflate");
    await expectError(
      upload(world.devA.token, appId, "1.0.0", zipSync({ "../evil.js": new TextEncoder().encode("x") })),
      422,
      "bad_package",
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
        token: world.devA.token,
        body: "{}",
        headers: { "content-type": "application/json" },
      }),
      415,
      "unsupported_media_type",
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0`, {
        token: world.devA.token,
        body: makePackage("1"),
        headers: { "content-type": "application/zip" },
      }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
        token: world.devA.token,
        body: makePackage("1"),
        headers: { "content-type": "application/zip", "content-length": String(64 * 1024 * 1024) },
      }),
      413,
      "payload_too_large",
    );
    const list = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions`, { token: world.devA.token }),
      200,
    );
    expect(list.versions).toEqual([]);
  });

  it("a viewer cannot upload and another team cannot see the mini program", async () => {
    const appId = await makeMiniProgram(world);
    await expectError(upload(world.viewerA.token, appId, "1.0.0"), 403, "forbidden");
    await expectError(upload(world.devB.token, appId, "1.0.0"), 404, "not_found");
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions`, { token: world.devB.token }),
      404,
      "not_found",
    );
  });
});

describe("audit (V2)", () => {
  it("seed: 'Submit the current development version to the application administrator for audit' — every bound host app's auditor must approve", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    const audit = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
        token: world.devA.token,
        json: { note: "first" },
      }),
      201,
    );
    expect(audit.hostApps.sort()).toEqual([world.host1, world.host2].sort());
    const queue = await expectJson<any>(callAdmin("GET", "/v1/audits", { token: world.auditor1.token }), 200);
    expect(queue.audits.some((a: any) => a.id === audit.auditId && a.hostAppId === world.host1)).toBe(true);
    // The manager of host 1 is not an auditor; the auditor of host 2 cannot decide for host 1.
    await expectError(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.manager1.token,
        json: { hostAppId: world.host1, decision: "approve" },
      }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.auditor2.token,
        json: { hostAppId: world.host1, decision: "approve" },
      }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.devA.token,
        json: { hostAppId: world.host1, decision: "approve" },
      }),
      403,
      "forbidden",
    );
    const first = await expectJson<any>(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.auditor1.token,
        json: { hostAppId: world.host1, decision: "approve" },
      }),
      200,
    );
    expect(first.outcome).toBe("pending");
    await expectError(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.auditor1.token,
        json: { hostAppId: world.host1, decision: "approve" },
      }),
      409,
      "conflict",
    );
    const second = await expectJson<any>(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.auditor2.token,
        json: { hostAppId: world.host2, decision: "approve" },
      }),
      200,
    );
    expect(second.outcome).toBe("approved");
    const records = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/audits`, { token: world.viewerA.token }),
      200,
    );
    expect(records.audits[0]).toMatchObject({ version: "1.0.0", status: "approved", note: "first" });
    expect(records.audits[0].reviews.map((r: any) => r.decision)).toEqual(["approve", "approve"]);
  });

  it("a rejection needs a reason, rejects the version, and is listed in the audit records", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    const audit = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
        token: world.devA.token,
        json: {},
      }),
      201,
    );
    await expectError(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.auditor1.token,
        json: { hostAppId: world.host1, decision: "reject" },
      }),
      400,
      "bad_request",
    );
    const r = await expectJson<any>(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: world.auditor1.token,
        json: { hostAppId: world.host1, decision: "reject", reason: "crashes on launch" },
      }),
      200,
    );
    expect(r.outcome).toBe("rejected");
    const records = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/audits`, { token: world.devA.token }),
      200,
    );
    expect(records.audits[0].reviews[0]).toMatchObject({ decision: "reject", reason: "crashes on launch" });
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token: world.devA.token }),
      409,
      "conflict",
    );
  });

  it("at most one version in audit; withdraw frees the slot", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
        token: world.devA.token,
        json: {},
      }),
      201,
    );
    await expectJson(upload(world.devA.token, appId, "1.0.1"), 201);
    const msg = await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.1/submit`, {
        token: world.devA.token,
        json: {},
      }),
      409,
      "conflict",
    );
    expect(msg).toMatch(/in audit/);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/withdraw`, { token: world.devA.token }),
      200,
    );
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.1/submit`, {
        token: world.devA.token,
        json: {},
      }),
      201,
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/withdraw`, { token: world.devA.token }),
      404,
      "not_found",
    );
  });

  it("racing submits: exactly one audit starts", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
          token: world.devA.token,
          json: {},
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const records = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/audits`, { token: world.devA.token }),
      200,
    );
    expect(records.audits).toHaveLength(1);
  });

  it("submitting needs an approved binding", async () => {
    const appId = await makeMiniProgram(world, []);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    expect(
      await expectError(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
          token: world.devA.token,
          json: {},
        }),
        409,
        "conflict",
      ),
    ).toMatch(/bind/);
  });
});

describe("publish (V3) and rollback (V4)", () => {
  it("seed: 'When the audit process is completed, it can be published' — approved and higher than online only", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token: world.devA.token }),
      409,
      "conflict",
    );
    await approveVersion(world, appId, "1.1.0");
    await publish(world, appId, "1.1.0");
    const ov = await overview(world.devA.token, appId);
    expect(ov.online.version).toBe("1.1.0");
    expect(ov.releases[0]).toMatchObject({ version: "1.1.0", via: "publish", fromVersion: null });
    // a viewer may read but not publish
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.1.0/publish`, { token: world.viewerA.token }),
      403,
      "forbidden",
    );
    // an upload must be higher than every release
    await expectError(upload(world.devA.token, appId, "1.0.5"), 409, "conflict");
  });

  it("seed: 'Roll back ... to a previously released historical version. Continuous rollback is not supported.'", async () => {
    const appId = await makeMiniProgram(world);
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) {
      await approveVersion(world, appId, v);
      await publish(world, appId, v);
    }
    expect((await overview(world.devA.token, appId)).rollbackCandidates).toEqual(["1.1.0", "1.0.0"]);
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.2.0" },
      }),
      409,
      "conflict",
    );
    const rolled = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.1.0" },
      }),
      200,
    );
    expect(rolled.online).toBe(true);
    const msg = await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      409,
      "conflict",
    );
    expect(msg).toMatch(/continuous rollback is not supported/i);
    // a new publish re-opens rollback
    await approveVersion(world, appId, "1.3.0");
    await publish(world, appId, "1.3.0");
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      200,
    );
    const history = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/releases`, { token: world.viewerA.token }),
      200,
    );
    expect(history.releases.map((r: any) => `${r.via}:${r.fromVersion}->${r.version}`)).toEqual([
      "rollback:1.3.0->1.0.0",
      "publish:1.1.0->1.3.0",
      "rollback:1.2.0->1.1.0",
      "publish:1.1.0->1.2.0",
      "publish:1.0.0->1.1.0",
      "publish:null->1.0.0",
    ]);
  });

  it("two racing publishes: one lands, the other gets 409, the history stays consistent", async () => {
    const appId = await makeMiniProgram(world);
    await approveVersion(world, appId, "1.0.0");
    const results = await Promise.all(
      [0, 1].map(() =>
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token: world.devA.token }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const history = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/releases`, { token: world.devA.token }),
      200,
    );
    expect(history.releases).toHaveLength(1);
  });
});

describe("off-shelf (M4)", () => {
  it("seed: delisted mini programs 'will not be able to release new versions, but they can still submit for version audit'", async () => {
    const appId = await makeMiniProgram(world);
    await approveVersion(world, appId, "1.0.0");
    await publish(world, appId, "1.0.0");
    await approveVersion(world, appId, "1.1.0");
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: false },
      }),
      200,
    );
    expect(
      await expectError(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.1.0/publish`, { token: world.devA.token }),
        409,
        "conflict",
      ),
    ).toMatch(/off the shelf/);
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      409,
      "conflict",
    );
    await expectJson(upload(world.devA.token, appId, "1.2.0"), 201);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.2.0/submit`, {
        token: world.devA.token,
        json: {},
      }),
      201,
    );
    const snap = (await (await testEnv.PACKAGES.get(snapshotKey(appId)))!.json()) as any;
    expect(snap.listed).toBe(false);
  });
});

describe("trial version (V5)", () => {
  it("seed: 'Configure the applet to open the page and use relative address configuration' — only relative paths", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(upload(world.devA.token, appId, "0.9.0"), 201);
    const trial = await expectJson<any>(
      callAdmin("PUT", `/v1/mini-programs/${appId}/trial`, {
        token: world.devA.token,
        json: { pagePath: "pages/index/index?from=trial", testers: ["alice", "alice", "bob"] },
      }),
      200,
    );
    expect(trial).toEqual({
      pagePath: "pages/index/index?from=trial",
      testers: ["alice", "bob"],
      version: "0.9.0",
    });
    for (const pagePath of ["/pages/index", "https://evil.example/x", "../up", ""]) {
      await expectError(
        callAdmin("PUT", `/v1/mini-programs/${appId}/trial`, {
          token: world.devA.token,
          json: { pagePath, testers: [] },
        }),
        400,
        "bad_request",
      );
    }
  });
});
