/**
 * Uploaded txt whitelists of target objects (seed: "upload objects in batches through txt
 * Whitelist"; PRODUCT.md G1: lists of 1,000,000 entries must work).
 *
 * An upload is read as a stream, line by line, and never held twice: the values (slices of the
 * decoded text) are collected, grouped by shard, sorted and deduplicated shard by shard, and
 * written to R2 as sorted shards plus a Bloom filter under a new id (immutable objects: the
 * edge caches them by id).
 * Only then is the D1 row switched, in one batch with the audit trail, and the snapshot
 * published. Replaced whitelists are deleted from R2 later by the cron (an edge may still be
 * serving the previous snapshot for a few seconds).
 */
import { and, eq, isNull, lt } from "drizzle-orm";
import { ApiError } from "../../../core/errors";
import type { TargetKind, WhitelistRef } from "../../../core/grayscale/types";
import {
  addToBloom,
  bloomHas,
  bloomSize,
  MAX_TARGET_LENGTH,
  MAX_WHITELIST_LINES,
  parseWhitelistLine,
  shardCount,
  shardHas,
  shardOf,
} from "../../../core/grayscale/whitelist";
import { parseShardText } from "../../../core/grayscale/whitelist-build";
import { refusalOf } from "../../../core/lifecycle";
import { whitelistBloomKey, whitelistShardKey } from "../../../core/snapshot";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { whitelists } from "../db/schema";
import { randomId } from "../lib/encoding";
import { forEachLine } from "../lib/text-lines";
import { requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";
import { guardedWrite } from "./d1";
import { requireTask, statusOf, type TaskRow, whitelistRefOf } from "./grayscale-store";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";
import { refusalError } from "./versions";

/** Largest accepted upload: 1,000,000 values of up to 64 bytes each. */
export const MAX_WHITELIST_BYTES = 64 * 1024 * 1024;
/** A line this long is bad whatever it holds; its text is not kept (bounds a newline-free body). */
const MAX_LINE_CHARS = 4096;
/** Bad lines listed in a refusal (all are counted). */
export const MAX_REPORTED_BAD_LINES = 100;
/** R2 writes in flight at once (a Worker keeps at most 6 connections open). */
const R2_PARALLELISM = 6;
/** Replaced whitelists stay in R2 this long, so edges still on the previous snapshot can read them. */
export const REPLACED_RETENTION_MS = 60 * 60 * 1000;

export interface ParsedWhitelist {
  /** the valid values in upload order, duplicates included */
  values: string[];
  /** non-blank lines read */
  lines: number;
}

/**
 * Reads a txt whitelist from a stream. Checks, in order: a body is present; at most
 * MAX_WHITELIST_BYTES bytes (413); valid UTF-8 (400); at most MAX_WHITELIST_LINES non-blank
 * lines (413); every non-blank line passes core `parseWhitelistLine` (400 listing the first 100
 * bad lines with their numbers, and how many there are; nothing is stored; a line over 4096
 * characters is bad without being kept); at least one value. Blank lines are skipped; "\r\n"
 * and a leading BOM are accepted.
 */
export async function readWhitelist(body: ReadableStream<Uint8Array> | null): Promise<ParsedWhitelist> {
  if (!body) throw new ApiError("bad_request", "send the whitelist as a text/plain body, one value per line");
  const values: string[] = [];
  const bad: { line: number; error: string }[] = [];
  let badCount = 0;
  let lines = 0;
  await forEachLine(
    body,
    { maxBytes: MAX_WHITELIST_BYTES, maxLineChars: MAX_LINE_CHARS },
    (text, lineNumber) => {
      if (text !== null && text.trim().length === 0) return;
      if (++lines > MAX_WHITELIST_LINES)
        throw new ApiError("payload_too_large", `a whitelist holds at most ${MAX_WHITELIST_LINES} lines`);
      const parsed =
        text === null
          ? ({ ok: false, error: `longer than ${MAX_TARGET_LENGTH} characters` } as const)
          : parseWhitelistLine(text);
      if (parsed.ok) values.push(parsed.value);
      else if (++badCount <= MAX_REPORTED_BAD_LINES) bad.push({ line: lineNumber, error: parsed.error });
    },
  );
  if (badCount > 0) {
    const listed =
      badCount > MAX_REPORTED_BAD_LINES ? ` (the first ${MAX_REPORTED_BAD_LINES} are listed)` : "";
    const issues = bad.map((b) => ({ path: `line ${b.line}`, message: b.error }));
    throw new ApiError(
      "bad_request",
      `${badCount} line(s) are not valid target objects${listed}; nothing was stored`,
      issues,
    );
  }
  if (values.length === 0) throw new ApiError("bad_request", "the whitelist holds no values");
  return { values, lines };
}

async function inPool(count: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(R2_PARALLELISM, count) }, worker));
}

/**
 * Writes the shards and the Bloom filter of `values` (any order, duplicates allowed) to R2
 * under `id`. Values are grouped by shard with a counting sort over shard numbers (no per-shard
 * copy of all values at once), then each shard is sorted by plain string order (`<`) and
 * deduplicated on its own: equal values share a shard, and sorting 256 lists of ~4096 values
 * costs less than sorting a million. The shard count and the Bloom size are taken from the
 * number of values before deduplication (an upper bound; the ref carries both to the edge).
 */
export async function writeWhitelist(
  bucket: R2Bucket,
  id: string,
  kind: TargetKind,
  seed: number,
  values: readonly string[],
): Promise<WhitelistRef> {
  const ref: WhitelistRef = {
    id,
    kind,
    count: 0,
    seed,
    ...bloomSize(values.length),
    shards: shardCount(values.length),
  };
  const shardOfValue = new Uint32Array(values.length);
  const starts = new Uint32Array(ref.shards + 1);
  values.forEach((v, i) => {
    const s = shardOf(ref, v);
    shardOfValue[i] = s;
    starts[s + 1]! += 1;
  });
  for (let s = 0; s < ref.shards; s++) starts[s + 1]! += starts[s]!;
  const order = new Uint32Array(values.length);
  const fill = starts.slice(0, ref.shards);
  for (let i = 0; i < values.length; i++) order[fill[shardOfValue[i]!]!++] = i;

  const bloom = new Uint8Array(Math.ceil(ref.bloomBits / 8));
  await inPool(ref.shards, async (s) => {
    const shard: string[] = [];
    for (let j = starts[s]!; j < starts[s + 1]!; j++) shard.push(values[order[j]!] as string);
    shard.sort();
    let unique = 0;
    for (const v of shard) {
      if (unique > 0 && v === shard[unique - 1]) continue;
      shard[unique++] = v;
      addToBloom(bloom, ref, v);
    }
    shard.length = unique;
    ref.count += unique;
    await bucket.put(whitelistShardKey(id, s), shard.join("\n"), {
      httpMetadata: { contentType: "text/plain; charset=utf-8" },
    });
  });
  await bucket.put(whitelistBloomKey(id), bloom, {
    httpMetadata: { contentType: "application/octet-stream" },
  });
  return ref;
}

/** Deletes a whitelist's objects from R2 (bloom and every shard). */
export async function deleteWhitelistObjects(
  bucket: R2Bucket,
  ref: Pick<WhitelistRef, "id" | "shards">,
): Promise<void> {
  const keys = [
    whitelistBloomKey(ref.id),
    ...Array.from({ length: ref.shards }, (_, i) => whitelistShardKey(ref.id, i)),
  ];
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
}

/** Exact membership of `value` in an uploaded whitelist: the Bloom filter, then its shard. */
export async function whitelistHas(bucket: R2Bucket, ref: WhitelistRef, value: string): Promise<boolean> {
  const bloom = await bucket.get(whitelistBloomKey(ref.id));
  if (!bloom || !bloomHas(new Uint8Array(await bloom.arrayBuffer()), ref, value)) return false;
  const shard = await bucket.get(whitelistShardKey(ref.id, shardOf(ref, value)));
  return shard !== null && shardHas(parseShardText(await shard.text()), value);
}

/** Whitelists change only while no new user is being admitted: pending or suspended. */
function requireListEditable(row: TaskRow, now: number): void {
  const { state } = statusOf(row, now);
  if (state === "ended") throw refusalError(refusalOf("task_ended"));
  if (state === "delivering")
    throw new ApiError(
      "conflict",
      "suspend the grayscale task before changing its whitelists: it is admitting users",
    );
}

/** PUT .../whitelists/{kind}: replaces the task's whitelist of that kind. */
export async function uploadWhitelist(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  taskId: string,
  kind: TargetKind,
  body: ReadableStream<Uint8Array> | null,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  requireListEditable(await requireTask(db, appId, taskId), Date.now());
  const parsed = await readWhitelist(body);
  const id = randomId("wl_", 10);
  const seed = crypto.getRandomValues(new Uint32Array(1))[0]! | 0;
  const ref = await writeWhitelist(bucket, id, kind, seed, parsed.values);
  const now = Date.now();
  try {
    // The upload took a while: the task must still accept list changes.
    requireListEditable(await requireTask(db, appId, taskId), now);
    await guardedWrite(
      db.batch([
        db
          .update(whitelists)
          .set({ replacedAt: now })
          .where(
            and(eq(whitelists.taskId, taskId), eq(whitelists.kind, kind), isNull(whitelists.replacedAt)),
          ),
        db.insert(whitelists).values({
          id,
          taskId,
          kind,
          count: ref.count,
          seed,
          bloomBits: ref.bloomBits,
          bloomHashes: ref.bloomHashes,
          shards: ref.shards,
          uploadedBy: actor.userId,
          createdAt: now,
        }),
        recordChange(
          db,
          actor,
          {
            action: "grayscale_task.whitelist_upload",
            teamId: mp.teamId,
            targetType: "grayscale_task",
            targetId: taskId,
            detail: { appId, kind, whitelistId: id, count: ref.count },
          },
          now,
        ),
        bumpSnapshotRevision(db, appId),
      ]),
      "another whitelist upload for this task finished at the same time; upload again",
    );
  } catch (err) {
    await deleteWhitelistObjects(bucket, ref).catch(() => {});
    throw err;
  }
  await publishCurrentSnapshot(db, bucket, appId);
  return {
    id,
    kind,
    count: ref.count,
    lines: parsed.lines,
    duplicates: parsed.lines - ref.count,
    shards: ref.shards,
    uploadedBy: actor.userId,
    createdAt: now,
  };
}

/** DELETE .../whitelists/{kind}: the task no longer uses an uploaded list of that kind. */
export async function removeWhitelist(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  taskId: string,
  kind: TargetKind,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const now = Date.now();
  requireListEditable(await requireTask(db, appId, taskId), now);
  const current = await db
    .select()
    .from(whitelists)
    .where(and(eq(whitelists.taskId, taskId), eq(whitelists.kind, kind), isNull(whitelists.replacedAt)))
    .get();
  if (!current) throw new ApiError("not_found", "this task has no whitelist of that kind");
  await db.batch([
    db.update(whitelists).set({ replacedAt: now }).where(eq(whitelists.id, current.id)),
    recordChange(
      db,
      actor,
      {
        action: "grayscale_task.whitelist_remove",
        teamId: mp.teamId,
        targetType: "grayscale_task",
        targetId: taskId,
        detail: { appId, kind, whitelistId: current.id },
      },
      now,
    ),
    bumpSnapshotRevision(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
}

/** Cron: deletes whitelists replaced longer ago than the retention, objects first, then rows. */
export async function purgeReplacedWhitelists(
  db: Db,
  bucket: R2Bucket,
  now: number,
  limit = 20,
): Promise<number> {
  const old = await db
    .select()
    .from(whitelists)
    .where(lt(whitelists.replacedAt, now - REPLACED_RETENTION_MS))
    .limit(limit)
    .all();
  for (const row of old) {
    await deleteWhitelistObjects(bucket, whitelistRefOf(row));
    await db.delete(whitelists).where(eq(whitelists.id, row.id)).run();
  }
  return old.length;
}
