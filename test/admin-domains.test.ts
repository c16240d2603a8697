/**
 * Server domains (PRODUCT.md X1, issue 12): the WeChat / Tencent console rules (https:// or
 * wss://, no IP, no localhost, no wildcard, no path, at most 200 per kind, no duplicates),
 * business-domain verification by proof, the change log, and the runtime config in the snapshot.
 */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { miniProgramDomains } from "../control-plane/src/db/schema";
import adminApp from "../control-plane/src/index";
import { testEnv } from "./env";
import {
  adminEnv,
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  storedSnapshot,
  type World,
} from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
});

const add = (token: string, kind: string, domain: unknown, id = appId) =>
  callAdmin("POST", `/v1/mini-programs/${id}/domains/${kind}`, { token, json: { domain } });

async function changeLog(): Promise<any[]> {
  const log = await expectJson<any>(
    callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
    200,
  );
  return log.entries.filter((e: any) => e.targetId === appId);
}

describe("domains", () => {
  it("adds one domain per kind with the right scheme; lists them with who and when; they reach the snapshot", async () => {
    const before = (await storedSnapshot(appId)).config.revision;
    const request = await expectJson<any>(add(world.devA.token, "request", "https://API.Example.com"), 201);
    expect(request).toMatchObject({
      kind: "request",
      domain: "api.example.com",
      url: "https://api.example.com",
    });
    expect(request.createdBy).toBe(world.devA.id);
    await expectJson(add(world.devA.token, "uploadFile", "https://up.example.com:8443"), 201);
    await expectJson(add(world.adminA.token, "downloadFile", "https://cdn.example.com:443/"), 201);
    const socket = await expectJson<any>(add(world.devA.token, "socket", "wss://ws.example.com"), 201);
    expect(socket.url).toBe("wss://ws.example.com");
    const listed = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/domains`, { token: world.viewerA.token }),
      200,
    );
    expect(listed.limitPerKind).toBe(200);
    expect(listed.domains.request.map((d: any) => d.domain)).toEqual(["api.example.com"]);
    expect(listed.domains.uploadFile.map((d: any) => d.domain)).toEqual(["up.example.com:8443"]);
    expect(listed.domains.downloadFile.map((d: any) => d.domain)).toEqual(["cdn.example.com"]);
    expect(listed.domains.socket[0]).toMatchObject({ domain: "ws.example.com", createdBy: world.devA.id });
    const snap = await storedSnapshot(appId);
    expect(snap.config.revision).toBe(before + 4);
    expect(snap.config.domains).toMatchObject({
      request: ["api.example.com"],
      uploadFile: ["up.example.com:8443"],
      downloadFile: ["cdn.example.com"],
      socket: ["ws.example.com"],
      business: [],
    });
    const log = await changeLog();
    expect(log.filter((e) => e.action === "domain.add").map((e) => e.detail.domain)).toEqual(
      expect.arrayContaining(["api.example.com", "up.example.com:8443", "cdn.example.com", "ws.example.com"]),
    );
  });

  it("refuses the wrong scheme, IPs, localhost, wildcards, paths, queries, credentials and bad ports with 400", async () => {
    const refused: [string, string, RegExp][] = [
      ["request", "http://api.example.com", /https:\/\//],
      ["request", "api.example.com", /https:\/\//],
      ["socket", "https://ws.example.com", /wss:\/\//],
      ["request", "wss://api.example.com", /https:\/\//],
      ["request", "https://10.0.0.1", /IP/],
      ["request", "https://[::1]", /IP/],
      ["request", "https://localhost", /localhost/],
      ["request", "https://dev.localhost", /localhost/],
      ["request", "https://*.example.com", /wildcard/],
      ["request", "https://api.example.com/v1", /path/],
      ["request", "https://api.example.com?x=1", /path, query/],
      ["request", "https://user@api.example.com", /user name/],
      ["request", "https://api.example.com:99999", /port/],
      ["request", "https://intranet", /two labels/],
      ["request", "https://bad_name.example.com", /host name/],
    ];
    for (const [kind, domain, why] of refused) {
      const res = await add(world.devA.token, kind, domain);
      const body = await expectJson<any>(res, 400);
      expect(body.error.code, domain).toBe("bad_request");
      expect(body.error.issues[0].message, domain).toMatch(why);
    }
    await expectError(add(world.devA.token, "request", 42), 400, "bad_request");
    await expectError(add(world.devA.token, "ftp", "https://x.example.com"), 400, "bad_request");
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/domains/request`, {
        token: world.devA.token,
        json: { domain: "https://x.example.com", extra: 1 },
      }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/domains/request`, {
        token: world.devA.token,
        body: "{not json",
        headers: { "content-type": "application/json" },
      }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/domains/request`, {
        token: world.devA.token,
        json: { domain: `https://${"a".repeat(300 * 1024)}.com` },
      }),
      413,
      "payload_too_large",
    );
  });

  it("refuses a duplicate (in any spelling) with 409, and the 201st domain of a kind with 409", async () => {
    await expectJson(add(world.devA.token, "request", "https://dup.example.com"), 201);
    await expectError(add(world.devA.token, "request", "https://DUP.example.com."), 409, "conflict");
    await expectError(add(world.devA.token, "request", "https://dup.example.com:443"), 409, "conflict");
    // The same host under another kind is another entry.
    await expectJson(add(world.devA.token, "downloadFile", "https://dup.example.com"), 201);

    const other = await makeMiniProgram(world);
    const db = createDb(testEnv.DB);
    const rows = Array.from({ length: 199 }, (_, i) => ({
      id: `dom_fill_${other}_${i}`,
      miniProgramId: other,
      kind: "socket" as const,
      domain: `s${i}.example.com`,
      createdBy: world.devA.id,
      createdAt: Date.now(),
    }));
    for (let i = 0; i < rows.length; i += 10)
      await db
        .insert(miniProgramDomains)
        .values(rows.slice(i, i + 10))
        .run();
    await expectJson(add(world.devA.token, "socket", "wss://last.example.com", other), 201);
    const message = await expectError(
      add(world.devA.token, "socket", "wss://over.example.com", other),
      409,
      "conflict",
    );
    expect(message).toMatch(/at most 200/);
    // Another kind still has room.
    await expectJson(add(world.devA.token, "request", "https://fine.example.com", other), 201);
  });

  it("refuses no credentials (401), a viewer (403), another team (404) and an unknown mini program (404)", async () => {
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/domains/request`, {
        json: { domain: "https://a.example.com" },
      }),
      401,
      "unauthenticated",
    );
    await expectError(add(world.viewerA.token, "request", "https://a.example.com"), 403, "forbidden");
    await expectError(add(world.devB.token, "request", "https://a.example.com"), 404, "not_found");
    await expectError(add(world.manager1.token, "request", "https://a.example.com"), 404, "not_found");
    await expectError(
      add(world.devA.token, "request", "https://a.example.com", "gcaaaaaaaaaaaaaaaaaaaa"),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/domains`, { token: world.devB.token }),
      404,
      "not_found",
    );
  });

  it("removes a domain (team admin or developer), in the change log; an unknown or other-kind id is 404", async () => {
    const added = await expectJson<any>(add(world.devA.token, "request", "https://gone.example.com"), 201);
    await expectError(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/domains/request/${added.id}`, {
        token: world.viewerA.token,
      }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/domains/socket/${added.id}`, {
        token: world.devA.token,
      }),
      404,
      "not_found",
    );
    const before = (await storedSnapshot(appId)).config;
    expect(before.domains.request).toContain("gone.example.com");
    await expectJson(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/domains/request/${added.id}`, {
        token: world.devA.token,
      }),
      200,
    );
    const after = (await storedSnapshot(appId)).config;
    expect(after.domains.request).not.toContain("gone.example.com");
    expect(after.revision).toBe(before.revision + 1);
    await expectError(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/domains/request/${added.id}`, {
        token: world.devA.token,
      }),
      404,
      "not_found",
    );
    expect(
      (await changeLog()).some((e) => e.action === "domain.remove" && e.detail.domain === "gone.example.com"),
    ).toBe(true);
  });

  it("a business domain carries a token; it reaches clients only once verified by the right proof", async () => {
    const biz = await expectJson<any>(add(world.devA.token, "business", "https://web.example.com"), 201);
    expect(biz.verification).toMatchObject({
      state: "pending",
      fileUrl: "https://web.example.com/.well-known/graycast-domain-verification.txt",
      verifiedAt: null,
    });
    expect(biz.verification.token).toMatch(/^gcv_[a-z2-7]{32}$/);
    expect((await storedSnapshot(appId)).config.domains.business).toEqual([]);
    const verify = (token: string, json: unknown, id = biz.id) =>
      callAdmin("POST", `/v1/mini-programs/${appId}/domains/business/${id}/verify`, { token, json });
    await expectError(verify(world.devA.token, {}), 400, "bad_request");
    await expectError(verify(world.devA.token, { proof: "gcv_wrong" }), 409, "conflict");
    await expectError(verify(world.viewerA.token, { proof: biz.verification.token }), 403, "forbidden");
    await expectError(verify(world.devB.token, { proof: biz.verification.token }), 404, "not_found");
    await expectError(
      verify(world.devA.token, { proof: biz.verification.token }, "dom_nope"),
      404,
      "not_found",
    );
    const done = await expectJson<any>(
      verify(world.devA.token, { proof: `${biz.verification.token}\n` }),
      200,
    );
    expect(done.method).toBe("proof");
    expect(done.verification.state).toBe("verified");
    expect((await storedSnapshot(appId)).config.domains.business).toEqual(["web.example.com"]);
    await expectError(verify(world.devA.token, { proof: biz.verification.token }), 409, "conflict");
    const entry = (await changeLog()).find((e) => e.action === "domain.verify");
    expect(entry.detail).toEqual({ kind: "business", domain: "web.example.com", method: "proof" });
    expect(entry.actorId).toBe(world.devA.id);
  });

  it("where the deployment fetches verification files, a caller's proof is not enough: an unreachable file leaves the domain pending", async () => {
    const biz = await expectJson<any>(add(world.devA.token, "business", "https://unreachable.invalid"), 201);
    const ctx = createExecutionContext();
    const res = await adminApp.fetch(
      new Request(`https://admin.test/v1/mini-programs/${appId}/domains/business/${biz.id}/verify`, {
        method: "POST",
        headers: { authorization: `Bearer ${world.devA.token}`, "content-type": "application/json" },
        body: JSON.stringify({ proof: biz.verification.token }),
      }),
      { ...adminEnv(), DOMAIN_VERIFICATION_FETCH: "on" } as never,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const message = await expectError(res, 409, "conflict");
    expect(message).toMatch(
      /verification failed: https:\/\/unreachable\.invalid\/\.well-known\/graycast-domain-verification\.txt/,
    );
    const listed = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/domains`, { token: world.devA.token }),
      200,
    );
    expect(listed.domains.business.find((d: any) => d.id === biz.id).verification.state).toBe("pending");
  });
});
