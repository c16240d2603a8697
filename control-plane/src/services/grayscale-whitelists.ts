/**
 * Uploaded txt whitelists of target objects (seed: "upload objects in batches through txt
 * Whitelist"; PRODUCT.md G1: lists of 1,000,000 entries must work).
 *
 * An upload is read as a stream, line by line, and its values are never held: each is hashed as
 * it arrives and only its 64-bit fingerprint and shard hash are kept (`WhitelistValues`, 9 bytes
 * a value). They are then grouped by shard and written to R2 in storage format 2
 * (core/grayscale/whitelist-v2.ts: per shard a table of fingerprints, plus a split-block Bloom
 * filter) under a new id (immutable objects: the edge caches them by id). Lists uploaded before
 * (format 1: text shards) stay readable: `whitelistHas` and the edge read both.
 * Only then is the D1 row switched, in one batch with the audit trail, and the snapshot
 * published. Replaced whitelists are deleted from R2 later by the cron (an edge may still be
 * serving the previous snapshot for a few seconds).
 */
import { and, eq, isNull, lt } from "drizzle-orm";
import { ApiError } from "../../../core/errors";
import type { TargetKind, WhitelistRef } from "../../../core/grayscale/types";
import {
  asciiWhitelistLineError,
  bloomHas,
  isAsciiSpace,
  MAX_TARGET_LENGTH,
  MAX_WHITELIST_LINES,
  MAX_WHITELIST_SHARDS,
  parseWhitelistLine,
  shardCount,
  shardHas,
  shardOf,
} from "../../../core/grayscale/whitelist";
import { parseShardText } from "../../../core/grayscale/whitelist-build";
import {
  buildFingerprintBloom,
  buildShardTable,
  FingerprintList,
  fingerprintBloomHas,
  fingerprintRef,
  planShards,
  readFingerprintBloom,
  readShardTable,
  shardTableCount,
  shardTableHas,
  valueFingerprint,
  wordBytes,
} from "../../../core/grayscale/whitelist-v2";
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
/** A line this long is bad whatever it holds; its bytes are not kept (bounds a newline-free body). */
const MAX_LINE_BYTES = 4096;

const tooManyLines = () =>
  new ApiError("payload_too_large", `a whitelist holds at most ${MAX_WHITELIST_LINES} lines`);
/** Bad lines listed in a refusal (all are counted). */
export const MAX_REPORTED_BAD_LINES = 100;
/** R2 writes in flight at once (a Worker keeps at most 6 connections open). */
const R2_PARALLELISM = 6;
/** Replaced whitelists stay in R2 this long, so edges still on the previous snapshot can read them. */
export const REPLACED_RETENTION_MS = 60 * 60 * 1000;

/**
 * The values of an upload as they stream in (issue 17: a 1,000,000-line upload once held every
 * value, as strings and then as UTF-8 bytes, ~175 MB at its peak): per value only its fingerprint
 * halves h0, h1 and its shard hash modulo MAX_WHITELIST_SHARDS, in growable typed arrays (core
 * `FingerprintList`, 9 bytes a value: 9.4 MB of arrays for a million, 14 MB while they last
 * double; `writeWhitelist` adds 4 MB of shard order, the 1.2 MB filter and the tables in flight).
 * The shard count depends on how many values there are, so the hash is reduced to the shard only
 * at the end.
 */
export class WhitelistValues extends FingerprintList {
  constructor(seed: number) {
    super(seed, MAX_WHITELIST_SHARDS);
  }
}

export interface ParsedWhitelist {
  /** the valid values in upload order, duplicates included */
  values: WhitelistValues;
  /** non-blank lines read */
  lines: number;
}

/**
 * Reads a txt whitelist from a stream. Checks, in order: a body is present; at most
 * MAX_WHITELIST_BYTES bytes (413); each line valid UTF-8 (400); at most MAX_WHITELIST_LINES
 * non-blank lines (413); every non-blank line passes core `parseWhitelistLine` (400 listing the
 * first 100 bad lines with their numbers, and how many there are; nothing is stored; a line
 * over 4096 bytes is bad without being kept); at least one value. Blank lines are skipped;
 * "\r\n" and a leading BOM are accepted. An ASCII line (GUIDs, device ids: nearly all of them)
 * is checked and hashed straight from the body's bytes (core `asciiWhitelistLineError`,
 * `FingerprintList.addAscii`: the same rules and hashes as for its text, with no string made);
 * any other line is decoded and checked as text. Values are hashed for `seed` as they arrive
 * (`WhitelistValues`).
 */
export async function readWhitelist(
  body: ReadableStream<Uint8Array> | null,
  seed: number,
): Promise<ParsedWhitelist> {
  if (!body) throw new ApiError("bad_request", "send the whitelist as a text/plain body, one value per line");
  const values = new WhitelistValues(seed);
  const bad: { line: number; error: string }[] = [];
  let badCount = 0;
  let lines = 0;
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const record = (lineNumber: number, error: string | undefined) => {
    if (error !== undefined && ++badCount <= MAX_REPORTED_BAD_LINES) bad.push({ line: lineNumber, error });
  };
  await forEachLine(
    body,
    { maxBytes: MAX_WHITELIST_BYTES, maxLineBytes: MAX_LINE_BYTES },
    (bytes, from, to, lineNumber) => {
      if (bytes === null) {
        if (++lines > MAX_WHITELIST_LINES) throw tooManyLines();
        return record(lineNumber, `longer than ${MAX_TARGET_LENGTH} characters`);
      }
      // Most lines are ASCII (GUIDs, device ids): checked and hashed from the bytes, no string.
      let a = from;
      let b = to;
      while (a < b && isAsciiSpace(bytes[a]!)) a++;
      while (b > a && isAsciiSpace(bytes[b - 1]!)) b--;
      let ascii = true;
      for (let i = a; i < b && ascii; i++) ascii = bytes[i]! < 0x80;
      if (ascii) {
        if (a === b) return;
        if (++lines > MAX_WHITELIST_LINES) throw tooManyLines();
        const error = asciiWhitelistLineError(bytes, a, b);
        // Once a line is bad nothing is stored: the values after it are only checked.
        if (error === undefined) {
          if (badCount === 0) values.addAscii(bytes, a, b);
        } else record(lineNumber, error);
        return;
      }
      // Anything else: decoded (strict UTF-8) and checked as text.
      let text: string;
      try {
        text = decoder.decode(bytes.subarray(from, to));
      } catch {
        throw new ApiError("bad_request", "the body is not valid UTF-8 text");
      }
      if (text.trim().length === 0) return;
      if (++lines > MAX_WHITELIST_LINES) throw tooManyLines();
      const parsed = parseWhitelistLine(text);
      if (parsed.ok) {
        if (badCount === 0) values.add(parsed.value);
      } else record(lineNumber, parsed.error);
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
  if (values.count === 0) throw new ApiError("bad_request", "the whitelist holds no values");
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
 * Writes `values` (any order, duplicates allowed) to R2 under `id` in storage format 2: the values
 * are grouped by shard with a counting sort over their shard numbers (core `planShards`, one index
 * array), then each shard's fingerprint table is built (equal fingerprints once) just before it is
 * written, R2_PARALLELISM at a time, so at most that many tables (64 KB each at 4,096 values)
 * exist at once; the Bloom filter (~1.2 MB for a million) is built and written last. The shard count and the
 * Bloom size are taken from the number of values before deduplication (an upper bound; the ref
 * carries both to the edge); the ref's `count` is the number of distinct fingerprints.
 */
export async function writeWhitelist(
  bucket: R2Bucket,
  id: string,
  kind: TargetKind,
  values: WhitelistValues,
): Promise<WhitelistRef> {
  const plan = planShards(values, shardCount(values.count));
  let count = 0;
  await inPool(plan.shards, async (s) => {
    const table = buildShardTable(values, plan, s);
    count += shardTableCount(table);
    await bucket.put(whitelistShardKey(id, s), wordBytes(table), {
      httpMetadata: { contentType: "application/octet-stream" },
    });
  });
  const bloom = buildFingerprintBloom(values);
  await bucket.put(whitelistBloomKey(id), wordBytes(bloom), {
    httpMetadata: { contentType: "application/octet-stream" },
  });
  return fingerprintRef({ id, kind, seed: values.seed, count, bloom, shards: plan.shards });
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

/**
 * Exact membership of `value` in an uploaded whitelist of either storage format: the Bloom
 * filter, then its shard. A missing or unreadable object answers "not a member", as at the edge.
 */
export async function whitelistHas(bucket: R2Bucket, ref: WhitelistRef, value: string): Promise<boolean> {
  if (ref.format === 2) return fingerprintWhitelistHas(bucket, ref, value);
  const bloom = await bucket.get(whitelistBloomKey(ref.id));
  if (!bloom || !bloomHas(new Uint8Array(await bloom.arrayBuffer()), ref, value)) return false;
  const shard = await bucket.get(whitelistShardKey(ref.id, shardOf(ref, value)));
  return shard !== null && shardHas(parseShardText(await shard.text()), value);
}

/** `whitelistHas` of a format-2 list: the value's fingerprint in the filter, then in its shard's table. */
async function fingerprintWhitelistHas(bucket: R2Bucket, ref: WhitelistRef, value: string): Promise<boolean> {
  const h = valueFingerprint(ref, value);
  const bloomObject = await bucket.get(whitelistBloomKey(ref.id));
  if (!bloomObject) return false;
  const bloom = readFingerprintBloom(await bloomObject.arrayBuffer(), ref);
  if (typeof bloom === "string" || !fingerprintBloomHas(bloom, h.h0, h.h1)) return false;
  const shardObject = await bucket.get(whitelistShardKey(ref.id, h.shard));
  if (!shardObject) return false;
  const table = readShardTable(await shardObject.arrayBuffer());
  return typeof table !== "string" && shardTableHas(table, h.h0, h.h1);
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
  const seed = crypto.getRandomValues(new Uint32Array(1))[0]! | 0;
  // Nothing after the write refers to the list's hashes (only to its line count), so they need
  // not stay reachable through the D1 batch and the snapshot publish.
  const parsed = await readWhitelist(body, seed);
  const lines = parsed.lines;
  const id = randomId("wl_", 10);
  const ref = await writeWhitelist(bucket, id, kind, parsed.values);
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
          format: ref.format ?? 1,
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
    lines,
    duplicates: lines - ref.count,
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
