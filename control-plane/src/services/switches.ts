/**
 * Switch configuration (PRODUCT.md D5; mPaaS "switch configuration"; issue 12: "key/value pairs,
 * typed string/number/boolean/JSON, optionally per grayscale task so a task can flip a switch for
 * its users only"). A row applies to every host app or one, to every user or to one grayscale
 * task's admitted users; the edge picks the most specific row (core/runtime-config.ts
 * `resolveConfig`). Every row of a key has one type, so a client never sees a key change type
 * between users.
 *
 * Roles: team members list; admins and developers set and delete. Each change is logged and bumps
 * the runtime config in the same D1 batch.
 */
import { and, eq, sql } from "drizzle-orm";
import { ApiError, conflict, notFound } from "../../../core/errors";
import { MAX_SWITCHES, type SwitchType, switchValueError } from "../../../core/runtime-config";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { bindings, grayscaleTasks, switches } from "../db/schema";
import { randomId } from "../lib/encoding";
import { READ_ROLES, requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChangeIfChanged } from "./change-log";
import { bumpConfigRevisionIfChanged } from "./runtime-config";
import { publishCurrentSnapshot } from "./snapshot";

type SwitchRow = typeof switches.$inferSelect;

function describeSwitch(row: SwitchRow) {
  return {
    key: row.key,
    type: row.type,
    value: JSON.parse(row.value) as unknown,
    hostAppId: row.hostAppId === "" ? null : row.hostAppId,
    taskId: row.taskId === "" ? null : row.taskId,
    updatedBy: row.updatedBy,
    updatedAt: row.updatedAt,
  };
}

export async function listSwitches(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(switches)
    .where(eq(switches.miniProgramId, appId))
    .orderBy(switches.key, switches.hostAppId, switches.taskId)
    .all();
  return { switches: rows.map(describeSwitch), limit: MAX_SWITCHES };
}

export interface SwitchScope {
  hostAppId?: string | undefined;
  taskId?: string | undefined;
}

/** Checks the scope names a bound host app and a grayscale task of this mini program that has not ended. */
async function checkScope(db: Db, appId: string, scope: SwitchScope): Promise<void> {
  if (scope.hostAppId !== undefined) {
    const bound = await db
      .select({ status: bindings.status })
      .from(bindings)
      .where(and(eq(bindings.miniProgramId, appId), eq(bindings.hostAppId, scope.hostAppId)))
      .get();
    if (bound?.status !== "approved") throw conflict("the mini program is not bound to this host app");
  }
  if (scope.taskId !== undefined) {
    const task = await db
      .select({ state: grayscaleTasks.state })
      .from(grayscaleTasks)
      .where(and(eq(grayscaleTasks.id, scope.taskId), eq(grayscaleTasks.miniProgramId, appId)))
      .get();
    if (!task) throw notFound("grayscale task");
    if (task.state === "ended") throw conflict("the grayscale task has ended; its users get the base values");
  }
}

export async function setSwitch(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  key: string,
  input: { type: SwitchType; value: unknown } & SwitchScope,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const invalid = switchValueError(input.type, input.value);
  if (invalid)
    throw new ApiError("bad_request", "the request is invalid", [{ path: "value", message: invalid }]);
  await checkScope(db, appId, input);
  const hostAppId = input.hostAppId ?? "";
  const taskId = input.taskId ?? "";
  const other = await db
    .select({ type: switches.type })
    .from(switches)
    .where(
      and(eq(switches.miniProgramId, appId), eq(switches.key, key), sql`${switches.type} != ${input.type}`),
    )
    .get();
  if (other)
    throw conflict(`switch ${key} is a ${other.type} switch; delete its other rows before changing its type`);
  const now = Date.now();
  const value = JSON.stringify(input.value);
  // Limit and type are checked again inside the write, so racing requests cannot pass them together.
  await db.batch([
    db
      .insert(switches)
      .select(
        sql`SELECT ${randomId("sw_", 10)}, ${appId}, ${hostAppId}, ${taskId}, ${key}, ${input.type}, ${value}, ${actor.userId}, ${now}
          WHERE ((SELECT count(*) FROM switches WHERE mini_program_id = ${appId}) < ${MAX_SWITCHES}
                 OR EXISTS (SELECT 1 FROM switches WHERE mini_program_id = ${appId} AND host_app_id = ${hostAppId} AND task_id = ${taskId} AND key = ${key}))
            AND NOT EXISTS (SELECT 1 FROM switches WHERE mini_program_id = ${appId} AND key = ${key} AND type != ${input.type})`,
      )
      .onConflictDoUpdate({
        target: [switches.miniProgramId, switches.hostAppId, switches.taskId, switches.key],
        set: {
          type: sql`excluded.type`,
          value: sql`excluded.value`,
          updatedBy: sql`excluded.updated_by`,
          updatedAt: sql`excluded.updated_at`,
        },
      }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "switch.set",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { key, type: input.type, hostAppId: input.hostAppId ?? null, taskId: input.taskId ?? null },
      },
      now,
    ),
    bumpConfigRevisionIfChanged(db, appId),
  ]);
  const row = await findSwitch(db, appId, key, hostAppId, taskId);
  if (!row || row.updatedAt !== now || row.value !== value)
    throw conflict(
      `not written: a mini program has at most ${MAX_SWITCHES} switch rows, and every row of a key one type`,
    );
  await publishCurrentSnapshot(db, bucket, appId);
  return describeSwitch(row);
}

function findSwitch(db: Db, appId: string, key: string, hostAppId: string, taskId: string) {
  return db
    .select()
    .from(switches)
    .where(
      and(
        eq(switches.miniProgramId, appId),
        eq(switches.key, key),
        eq(switches.hostAppId, hostAppId),
        eq(switches.taskId, taskId),
      ),
    )
    .get();
}

export async function deleteSwitch(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  key: string,
  scope: SwitchScope,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const row = await findSwitch(db, appId, key, scope.hostAppId ?? "", scope.taskId ?? "");
  if (!row) throw notFound(`switch ${key} for this host app and task`);
  await db.batch([
    db.delete(switches).where(eq(switches.id, row.id)),
    recordChangeIfChanged(db, actor, {
      action: "switch.delete",
      teamId: mp.teamId,
      targetType: "mini_program",
      targetId: appId,
      detail: { key, hostAppId: scope.hostAppId ?? null, taskId: scope.taskId ?? null },
    }),
    bumpConfigRevisionIfChanged(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
  return { ok: true as const };
}
