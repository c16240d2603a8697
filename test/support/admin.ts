/**
 * Drives the real control-plane Worker in-process (same bindings as the edge Worker under test:
 * real D1, R2 and Durable Objects) and builds a small world of users, teams and host apps.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { zipSync } from "fflate";
import { hashPassword } from "../../control-plane/src/auth/password";
import { createDb } from "../../control-plane/src/db/client";
import {
  grayscaleTasks,
  hostAppMembers,
  hostApps,
  teamMembers,
  teams,
  users,
} from "../../control-plane/src/db/schema";
import adminApp from "../../control-plane/src/index";
import { openSession } from "../../control-plane/src/services/auth";
import type { AdmitMeta, GrayscaleCounter } from "../../durable-objects/grayscale-counter";
import { testEnv } from "../env";

export interface CallOptions {
  token?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

/**
 * The admin Worker's bindings: the test env plus `EDGE_SIGNER`, the edge's real `EdgeSigner`
 * entrypoint (edge-worker/src/rpc.ts) reached over RPC as the wrangler.toml service binding does.
 */
export function adminEnv(): AdminEnv {
  return {
    ...testEnv,
    EDGE_SIGNER: (exports as unknown as { EdgeSigner: AdminEnv["EDGE_SIGNER"] }).EdgeSigner,
  };
}

export async function callAdmin(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const ctx = createExecutionContext();
  const res = await adminApp.fetch(
    new Request(`https://admin.test${path}`, { method, headers, body: body ?? null }),
    adminEnv(),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** Calls and parses JSON, failing loudly when the status is not the expected one. */
export async function expectJson<T = any>(res: Response | Promise<Response>, status: number): Promise<T> {
  const r = await res;
  const text = await r.text();
  if (r.status !== status) throw new Error(`expected HTTP ${status}, got ${r.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Expects the one error shape with the given status and code; returns the message. */
export async function expectError(
  res: Response | Promise<Response>,
  status: number,
  code: string,
): Promise<string> {
  const body = await expectJson<{ error: { code: string; message: string } }>(res, status);
  if (body.error?.code !== code) throw new Error(`expected error code ${code}, got ${JSON.stringify(body)}`);
  return body.error.message;
}

let passwordHash: Promise<string> | undefined;
export const TEST_PASSWORD = "correct horse battery staple";

/** Inserts a user directly (bootstrap) and returns a session token for it. */
export async function makeUser(label: string, opts: { platformAdmin?: boolean } = {}) {
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const db = createDb(testEnv.DB);
  const id = `usr_${label}_${crypto.randomUUID().slice(0, 8)}`;
  const email = `${label}-${id.slice(-8)}@example.test`.toLowerCase();
  await db
    .insert(users)
    .values({
      id,
      email,
      name: label,
      passwordHash: await passwordHash,
      isPlatformAdmin: opts.platformAdmin ?? false,
      createdAt: Date.now(),
    })
    .run();
  const { token } = await openSession(db, id, { secret: testEnv.JWT_SECRET, ttlSeconds: 3600 });
  return { id, email, token };
}

export type TestUser = Awaited<ReturnType<typeof makeUser>>;

/**
 * Two teams (A with admin, developer, viewer; B with a developer), two host apps each with a
 * manager and an auditor, and a platform admin.
 */
export async function makeWorld() {
  const db = createDb(testEnv.DB);
  const suffix = crypto.randomUUID().slice(0, 8);
  const [platform, adminA, devA, viewerA, devB, manager1, auditor1, manager2, auditor2] = await Promise.all(
    ["platform", "adminA", "devA", "viewerA", "devB", "manager1", "auditor1", "manager2", "auditor2"].map(
      (l) => makeUser(l, { platformAdmin: l === "platform" }),
    ),
  );
  const teamA = `team_a_${suffix}`;
  const teamB = `team_b_${suffix}`;
  const host1 = `ha_one_${suffix}`;
  const host2 = `ha_two_${suffix}`;
  const now = Date.now();
  await db.batch([
    db.insert(teams).values({ id: teamA, name: `Team A ${suffix}`, createdAt: now }),
    db.insert(teams).values({ id: teamB, name: `Team B ${suffix}`, createdAt: now }),
    db.insert(teamMembers).values({ teamId: teamA, userId: adminA!.id, role: "admin", createdAt: now }),
    db.insert(teamMembers).values({ teamId: teamA, userId: devA!.id, role: "developer", createdAt: now }),
    db.insert(teamMembers).values({ teamId: teamA, userId: viewerA!.id, role: "viewer", createdAt: now }),
    db.insert(teamMembers).values({ teamId: teamB, userId: devB!.id, role: "developer", createdAt: now }),
    db.insert(hostApps).values({ id: host1, name: `Host One ${suffix}`, createdAt: now }),
    db.insert(hostApps).values({ id: host2, name: `Host Two ${suffix}`, createdAt: now }),
    db
      .insert(hostAppMembers)
      .values({ hostAppId: host1, userId: manager1!.id, role: "manager", createdAt: now }),
    db
      .insert(hostAppMembers)
      .values({ hostAppId: host1, userId: auditor1!.id, role: "auditor", createdAt: now }),
    db
      .insert(hostAppMembers)
      .values({ hostAppId: host2, userId: manager2!.id, role: "manager", createdAt: now }),
    db
      .insert(hostAppMembers)
      .values({ hostAppId: host2, userId: auditor2!.id, role: "auditor", createdAt: now }),
  ]);
  return {
    platform: platform!,
    adminA: adminA!,
    devA: devA!,
    viewerA: viewerA!,
    devB: devB!,
    manager1: manager1!,
    auditor1: auditor1!,
    manager2: manager2!,
    auditor2: auditor2!,
    teamA,
    teamB,
    host1,
    host2,
  };
}

export type World = Awaited<ReturnType<typeof makeWorld>>;

/** A small mini program package whose bytes depend on `version`. */
export function makePackage(version: string, extra: Record<string, string> = {}): Uint8Array {
  const enc = new TextEncoder();
  const files: Record<string, Uint8Array> = {
    "app.json": enc.encode(JSON.stringify({ pages: ["pages/index/index"], version })),
    "pages/index/index.js": enc.encode(`Page({ data: { version: "${version}" } });\n`),
    "pages/index/index.wxml": enc.encode("<view>{{version}}</view>\n"),
  };
  for (const [path, text] of Object.entries(extra)) files[path] = enc.encode(text);
  // A fixed mtime keeps the bytes (and the sha256) the same whenever the package is built.
  return zipSync(files, { mtime: new Date("2026-01-01T00:00:00Z") });
}

export function upload(
  token: string,
  appId: string,
  version: string,
  zip: Uint8Array = makePackage(version),
) {
  return callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=${version}`, {
    token,
    body: zip,
    headers: { "content-type": "application/zip" },
  });
}

/** Creates a mini program in team A bound (approved) to the given host apps. */
export async function makeMiniProgram(world: World, hostAppIds: string[] = [world.host1]) {
  const mp = await expectJson<{ appId: string }>(
    callAdmin("POST", "/v1/mini-programs", {
      token: world.devA.token,
      json: { teamId: world.teamA, name: "Demo" },
    }),
    201,
  );
  for (const hostAppId of hostAppIds) {
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${mp.appId}/bindings`, {
        token: world.devA.token,
        json: { hostAppId },
      }),
      201,
    );
    const manager = hostAppId === world.host1 ? world.manager1 : world.manager2;
    await expectJson(
      callAdmin("POST", `/v1/host-apps/${hostAppId}/bindings/${mp.appId}/approve`, { token: manager.token }),
      200,
    );
  }
  return mp.appId;
}

/** Uploads, submits and has every bound host app approve `version`. */
export async function approveVersion(
  world: World,
  appId: string,
  version: string,
  hostAppIds: string[] = [world.host1],
) {
  await expectJson(upload(world.devA.token, appId, version), 201);
  const audit = await expectJson<{ auditId: string }>(
    callAdmin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
      token: world.devA.token,
      json: {},
    }),
    201,
  );
  for (const hostAppId of hostAppIds) {
    const auditor = hostAppId === world.host1 ? world.auditor1 : world.auditor2;
    await expectJson(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: auditor.token,
        json: { hostAppId, decision: "approve" },
      }),
      200,
    );
  }
  return audit.auditId;
}

export async function publish(world: World, appId: string, version: string) {
  return expectJson(
    callAdmin("POST", `/v1/mini-programs/${appId}/versions/${version}/publish`, { token: world.devA.token }),
    200,
  );
}

// ---------------------------------------------------------------- grayscale tasks

const DAY = 86_400_000;

/** A valid grayscale task body: running from a second ago for a day, host app 1, both platforms. */
export function taskBody(world: World, version: string, extra: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    version,
    name: "Beta",
    startAt: now - 1000,
    endAt: now + DAY,
    hostApps: [{ hostAppId: world.host1 }],
    platforms: [{ platform: "android" }, { platform: "ios" }],
    ...extra,
  };
}

export const tasksPath = (appId: string, rest = "") => `/v1/mini-programs/${appId}/grayscale-tasks${rest}`;

export async function createTask(
  world: World,
  appId: string,
  version: string,
  extra: Record<string, unknown> = {},
) {
  return expectJson<any>(
    callAdmin("POST", tasksPath(appId), { token: world.devA.token, json: taskBody(world, version, extra) }),
    201,
  );
}

export function taskAction(world: World, appId: string, taskId: string, action: string) {
  return callAdmin("POST", tasksPath(appId, `/${taskId}/${action}`), { token: world.devA.token });
}

/** A mini program bound to host app 1 with `online` published and each of `approved` approved. */
export async function appWithVersions(
  world: World,
  online: string | null = "1.0.0",
  approved: string[] = ["1.1.0"],
) {
  const appId = await makeMiniProgram(world);
  if (online) {
    await approveVersion(world, appId, online);
    await publish(world, appId, online);
  }
  for (const v of approved) await approveVersion(world, appId, v);
  return appId;
}

/** Time passes for a task: moves its stored start and end (columns and definition alike). */
export async function moveTaskTimes(taskId: string, times: { startAt?: number; endAt?: number }) {
  const db = createDb(testEnv.DB);
  const row = await db.select().from(grayscaleTasks).where(eq(grayscaleTasks.id, taskId)).get();
  if (!row) throw new Error(`no task ${taskId}`);
  const startAt = times.startAt ?? row.startAt;
  const endAt = times.endAt ?? row.endAt;
  await db
    .update(grayscaleTasks)
    .set({ startAt, endAt, definition: { ...row.definition, startAt, endAt } })
    .where(eq(grayscaleTasks.id, taskId))
    .run();
}

/** Runs the admin Worker's scheduled handler once, as the cron trigger does. */
export async function runCron(scheduledTime = Date.now()) {
  const controller = createScheduledController({ scheduledTime, cron: "* * * * *" });
  const ctx = createExecutionContext();
  await adminApp.scheduled(controller, testEnv, ctx);
  await waitOnExecutionContext(ctx);
}

/** Admits users into a capped task's counter, as the edge does on first admission. */
export async function admitUsers(taskId: string, cap: number, users: { key: string; meta: AdmitMeta }[]) {
  const stub = (testEnv.GRAYSCALE_COUNTER as unknown as DurableObjectNamespace<GrayscaleCounter>).getByName(
    taskId,
  );
  const results = [];
  for (const u of users) results.push(await stub.admit(u.key, cap, u.meta));
  return results;
}

/** The delivery snapshot the control plane last wrote to R2. */
export async function storedSnapshot(appId: string): Promise<any> {
  const obj = await testEnv.PACKAGES.get(`snapshots/${appId}.json`);
  if (!obj) throw new Error(`no snapshot for ${appId}`);
  return obj.json();
}
