/**
 * AppSecret key management (PRODUCT.md X5; seed "Key Management"): team admins only (every other
 * role, another team, and an API token without `admin` refused), shown once, stored only as a
 * keyed hash, reset kills the old secret at once, freeze / unfreeze, 409 on conflicts, every
 * action in the change log without the secret. Real admin Worker and D1.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { appSecrets, changeLog } from "../control-plane/src/db/schema";
import { authenticateAccessToken } from "../control-plane/src/services/server-api";
import { testEnv } from "./env";
import { callAdmin, expectError, expectJson, makeMiniProgram, makeWorld, type World } from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const path = (appId: string, action = "") => `/v1/mini-programs/${appId}/secret${action}`;

/** /cgi-bin/token with `secret`: the simplest server API that proves whether a secret works. */
function token(appId: string, secret: string) {
  return callAdmin("GET", `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`);
}

async function tokenFor(sessionToken: string, scopes: string[]) {
  return (
    await expectJson<{ token: string }>(
      callAdmin("POST", "/v1/auth/tokens", { token: sessionToken, json: { name: "secret scopes", scopes } }),
      201,
    )
  ).token;
}

describe("AppSecret lifecycle", () => {
  it("status before any secret; generate shows it once and stores only a keyed hash", async () => {
    const appId = await makeMiniProgram(world);
    const before = await expectJson<any>(callAdmin("GET", path(appId), { token: world.adminA.token }), 200);
    expect(before).toMatchObject({ appId, exists: false, frozen: false, hint: null, generation: 0 });

    const res = await callAdmin("POST", path(appId, "/generate"), { token: world.adminA.token });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = await expectJson<any>(res, 201);
    expect(created.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(created).toMatchObject({
      exists: true,
      frozen: false,
      generation: 1,
      createdBy: world.adminA.id,
      hint: `${created.secret.slice(0, 8)}…`,
    });

    // D1 holds the public id and an HMAC, never the secret or its plain SHA-256.
    const row = await createDb(testEnv.DB)
      .select()
      .from(appSecrets)
      .where(eq(appSecrets.miniProgramId, appId))
      .get();
    expect(row?.salt).toBe(created.secret.slice(0, 8));
    expect(row?.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(created.secret);
    const plainSha = [
      ...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(created.secret))),
    ]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    expect(row?.secretHash).not.toBe(plainSha);

    // The status never shows it again.
    const after = await expectJson<any>(callAdmin("GET", path(appId), { token: world.adminA.token }), 200);
    expect(after.secret).toBeUndefined();
    expect(after).toMatchObject({ exists: true, hint: created.hint, generation: 1 });
    await expectJson(token(appId, created.secret), 200);
  });

  it("generate twice is 409; reset replaces the secret and the old one is refused at once, its tokens too", async () => {
    const appId = await makeMiniProgram(world);
    const first = await expectJson<any>(
      callAdmin("POST", path(appId, "/generate"), { token: world.adminA.token }),
      201,
    );
    await expectError(
      callAdmin("POST", path(appId, "/generate"), { token: world.adminA.token }),
      409,
      "conflict",
    );
    const oldToken = (await expectJson<any>(token(appId, first.secret), 200)).access_token as string;

    const reset = await expectJson<any>(
      callAdmin("POST", path(appId, "/reset"), { token: world.adminA.token }),
      200,
    );
    expect(reset.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(reset.secret).not.toBe(first.secret);
    expect(reset).toMatchObject({ generation: 2, resetBy: world.adminA.id, createdBy: world.adminA.id });
    expect(reset.resetAt).toEqual(expect.any(Number));

    const refused = await expectJson<any>(token(appId, first.secret), 401);
    expect(refused.errcode).toBe(40001);
    await expectJson(token(appId, reset.secret), 200);
    // The access token minted from the old secret is gone with it.
    await expect(authenticateAccessToken(createDb(testEnv.DB), oldToken)).rejects.toMatchObject({
      errcode: 40001,
    });
  });

  it("reset, freeze and unfreeze without a secret are 409", async () => {
    const appId = await makeMiniProgram(world);
    for (const action of ["/reset", "/freeze", "/unfreeze"])
      await expectError(
        callAdmin("POST", path(appId, action), { token: world.adminA.token }),
        409,
        "conflict",
      );
  });

  it("freeze refuses the secret with 40243 (and its tokens), twice is 409; unfreeze restores it; reset of a frozen secret gives a working one", async () => {
    const appId = await makeMiniProgram(world);
    const { secret } = await expectJson<any>(
      callAdmin("POST", path(appId, "/generate"), { token: world.adminA.token }),
      201,
    );
    const accessToken = (await expectJson<any>(token(appId, secret), 200)).access_token as string;
    const db = createDb(testEnv.DB);
    await expect(authenticateAccessToken(db, accessToken)).resolves.toMatchObject({ appId });

    const frozen = await expectJson<any>(
      callAdmin("POST", path(appId, "/freeze"), { token: world.adminA.token }),
      200,
    );
    expect(frozen).toMatchObject({ frozen: true, frozenBy: world.adminA.id });
    expect((await expectJson<any>(token(appId, secret), 403)).errcode).toBe(40243);
    // A wrong secret on a frozen mini program learns nothing about the freeze.
    expect((await expectJson<any>(token(appId, "0".repeat(32)), 401)).errcode).toBe(40001);
    await expect(authenticateAccessToken(db, accessToken)).rejects.toMatchObject({ errcode: 40243 });
    await expectError(
      callAdmin("POST", path(appId, "/freeze"), { token: world.adminA.token }),
      409,
      "conflict",
    );

    const thawed = await expectJson<any>(
      callAdmin("POST", path(appId, "/unfreeze"), { token: world.adminA.token }),
      200,
    );
    expect(thawed).toMatchObject({ frozen: false, frozenAt: null, frozenBy: null });
    await expectError(
      callAdmin("POST", path(appId, "/unfreeze"), { token: world.adminA.token }),
      409,
      "conflict",
    );
    await expectJson(token(appId, secret), 200);
    await expect(authenticateAccessToken(db, accessToken)).resolves.toMatchObject({ appId });

    await expectJson(callAdmin("POST", path(appId, "/freeze"), { token: world.adminA.token }), 200);
    const reset = await expectJson<any>(
      callAdmin("POST", path(appId, "/reset"), { token: world.adminA.token }),
      200,
    );
    expect(reset.frozen).toBe(false);
    await expectJson(token(appId, reset.secret), 200);
    expect((await expectJson<any>(token(appId, secret), 401)).errcode).toBe(40001);
  });

  it("every action is in the change log, never with the secret", async () => {
    const appId = await makeMiniProgram(world);
    const g = await expectJson<any>(
      callAdmin("POST", path(appId, "/generate"), { token: world.adminA.token }),
      201,
    );
    await expectJson(callAdmin("POST", path(appId, "/freeze"), { token: world.adminA.token }), 200);
    await expectJson(callAdmin("POST", path(appId, "/unfreeze"), { token: world.adminA.token }), 200);
    const r = await expectJson<any>(
      callAdmin("POST", path(appId, "/reset"), { token: world.adminA.token }),
      200,
    );
    const rows = await createDb(testEnv.DB)
      .select()
      .from(changeLog)
      .where(eq(changeLog.targetId, appId))
      .all();
    const secretRows = rows.filter((row) => row.targetType === "app_secret");
    expect(secretRows.map((row) => row.action).sort()).toEqual(
      ["app_secret.freeze", "app_secret.generate", "app_secret.reset", "app_secret.unfreeze"].sort(),
    );
    expect(secretRows.every((row) => row.actorId === world.adminA.id && row.teamId === world.teamA)).toBe(
      true,
    );
    const text = JSON.stringify(rows);
    expect(text).not.toContain(g.secret);
    expect(text).not.toContain(r.secret);
  });
});

describe("who may manage AppSecrets", () => {
  it("only the team admin: developer and viewer 403, another team and host-app roles 404, no token 401", async () => {
    const appId = await makeMiniProgram(world);
    const routes: [string, string][] = [
      ["GET", path(appId)],
      ["POST", path(appId, "/generate")],
      ["POST", path(appId, "/reset")],
      ["POST", path(appId, "/freeze")],
      ["POST", path(appId, "/unfreeze")],
    ];
    for (const [method, p] of routes) {
      await expectError(callAdmin(method, p, { token: world.devA.token }), 403, "forbidden");
      await expectError(callAdmin(method, p, { token: world.viewerA.token }), 403, "forbidden");
      await expectError(callAdmin(method, p, { token: world.devB.token }), 404, "not_found");
      await expectError(callAdmin(method, p, { token: world.manager1.token }), 404, "not_found");
      await expectError(callAdmin(method, p), 401, "unauthenticated");
    }
    // None of the refusals created a secret.
    expect(
      (await expectJson<any>(callAdmin("GET", path(appId), { token: world.adminA.token }), 200)).exists,
    ).toBe(false);
  });

  it("an API token needs the admin scope, the status (a GET) included", async () => {
    const appId = await makeMiniProgram(world);
    const readWritePublish = await tokenFor(world.adminA.token, ["read", "write", "publish"]);
    for (const [method, p] of [
      ["GET", path(appId)],
      ["POST", path(appId, "/generate")],
      ["POST", path(appId, "/reset")],
      ["POST", path(appId, "/freeze")],
      ["POST", path(appId, "/unfreeze")],
    ] as const) {
      const message = await expectError(callAdmin(method, p, { token: readWritePublish }), 403, "forbidden");
      expect(message).toContain('"admin" scope');
    }
    const admin = await tokenFor(world.adminA.token, ["admin"]);
    await expectJson(callAdmin("GET", path(appId), { token: admin }), 200);
    await expectJson(callAdmin("POST", path(appId, "/generate"), { token: admin }), 201);
  });

  it("a malformed App ID is 400; an unknown one 404", async () => {
    await expectError(
      callAdmin("GET", "/v1/mini-programs/not-an-app/secret", { token: world.adminA.token }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", `/v1/mini-programs/gc${"a".repeat(20)}/secret/generate`, {
        token: world.adminA.token,
      }),
      404,
      "not_found",
    );
  });
});
