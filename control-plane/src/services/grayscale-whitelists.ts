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
  shardHash,
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

/**
 * Shards of the largest list: every shard count is a power of two up to this, so a value's shard
 * hash modulo this number determines its shard for any count (`h % s === (h % MAX_SHARDS) % s`).
 */
const MAX_SHARDS = shardCount(MAX_WHITELIST_LINES);

/**
 * The values of an upload as they stream in, held compactly (issue 17: a 1,000,000-line upload
 * held one JS string per value): each value's UTF-8 bytes in 1 MiB blocks, and per value its
 * offset, byte length and shard hash modulo MAX_SHARDS in typed arrays; ~43 bytes per
 * 36-character GUID. The shard count depends on how many values there are, so the hash is reduced
 * to the shard only at the end.
 */
export class WhitelistValues {
  static readonly BLOCK = 1 << 20;
  private readonly blocks: Uint8Array[] = [];
  private used = WhitelistValues.BLOCK;
  private readonly encoder = new TextEncoder();
  /** block index * BLOCK + offset of each value's bytes */
  pos = new Uint32Array(4096);
  len = new Uint16Array(4096);
  hash: Uint8Array | Uint16Array | Uint32Array = newHashes(4096);
  count = 0;

  constructor(readonly seed: number) {}

  add(value: string): void {
    if (this.count === this.pos.length) this.grow();
    // At most 3 UTF-8 bytes per UTF-16 code unit (a surrogate pair is 4 bytes for 2 units).
    if (this.used + value.length * 3 > WhitelistValues.BLOCK) {
      this.blocks.push(new Uint8Array(WhitelistValues.BLOCK));
      this.used = 0;
    }
    const block = this.blocks.length - 1;
    const { written } = this.encoder.encodeInto(value, this.blocks[block]!.subarray(this.used));
    this.pos[this.count] = block * WhitelistValues.BLOCK + this.used;
    this.len[this.count] = written;
    this.hash[this.count] = shardHash(this.seed, value) % MAX_SHARDS;
    this.count++;
    this.used += written;
  }

  /** The UTF-8 bytes of value `i`. */
  bytesOf(i: number): Uint8Array {
    const p = this.pos[i]!;
    const block = Math.floor(p / WhitelistValues.BLOCK);
    const offset = p - block * WhitelistValues.BLOCK;
    return this.blocks[block]!.subarray(offset, offset + this.len[i]!);
  }

  private grow(): void {
    const size = this.pos.length * 2;
    const pos = new Uint32Array(size);
    pos.set(this.pos);
    const len = new Uint16Array(size);
    len.set(this.len);
    const hash = newHashes(size);
    hash.set(this.hash);
    this.pos = pos;
    this.len = len;
    this.hash = hash;
  }
}

function newHashes(size: number) {
  return MAX_SHARDS <= 0x100
    ? new Uint8Array(size)
    : MAX_SHARDS <= 0x10000
      ? new Uint16Array(size)
      : new Uint32Array(size);
}

export interface ParsedWhitelist {
  /** the valid values in upload order, duplicates included */
  values: WhitelistValues;
  /** non-blank lines read */
  lines: number;
}

/**
 * Reads a txt whitelist from a stream. Checks, in order: a body is present; at most
 * MAX_WHITELIST_BYTES bytes (413); valid UTF-8 (400); at most MAX_WHITELIST_LINES non-blank
 * lines (413); every non-blank line passes core `parseWhitelistLine` (400 listing the first 100
 * bad lines with their numbers, and how many there are; nothing is stored; a line over 4096
 * characters is bad without being kept); at least one value. Blank lines are skipped; "\r\n"
 * and a leading BOM are accepted. Values are hashed for `seed` as they arrive (`WhitelistValues`).
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
      // Once a line is bad nothing is stored: the values after it are only checked.
      if (parsed.ok) {
        if (badCount === 0) values.add(parsed.value);
      } else if (++badCount <= MAX_REPORTED_BAD_LINES) bad.push({ line: lineNumber, error: parsed.error });
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
 * Writes the shards and the Bloom filter of `values` (any order, duplicates allowed) to R2
 * under `id`. Values are grouped by shard with a counting sort over shard numbers (one index
 * array, no copy of the values), then each shard is decoded (its values' bytes joined by "\n",
 * one decode), sorted by plain string order (`<`) and deduplicated on its own: equal values share
 * a shard, and sorting 256 lists of ~4096 values costs less than sorting a million. Only the
 * shards being written (R2_PARALLELISM at once) exist as strings. The shard count and the Bloom
 * size are taken from the number of values before deduplication (an upper bound; the ref carries
 * both to the edge).
 */
export async function writeWhitelist(
  bucket: R2Bucket,
  id: string,
  kind: TargetKind,
  values: WhitelistValues,
): Promise<WhitelistRef> {
  const n = values.count;
  const ref: WhitelistRef = {
    id,
    kind,
    count: 0,
    seed: values.seed,
    ...bloomSize(n),
    shards: shardCount(n),
  };
  const shardOfValue = (i: number) => (ref.shards <= 1 ? 0 : values.hash[i]! % ref.shards);
  const starts = new Uint32Array(ref.shards + 1);
  for (let i = 0; i < n; i++) starts[shardOfValue(i) + 1]! += 1;
  for (let s = 0; s < ref.shards; s++) starts[s + 1]! += starts[s]!;
  const order = new Uint32Array(n);
  const fill = starts.slice(0, ref.shards);
  for (let i = 0; i < n; i++) order[fill[shardOfValue(i)]!++] = i;

  const bloom = new Uint8Array(Math.ceil(ref.bloomBits / 8));
  const decoder = new TextDecoder();
  await inPool(ref.shards, async (s) => {
    const from = starts[s]!;
    const to = starts[s + 1]!;
    let shard: string[] = [];
    if (to > from) {
      let size = to - from - 1;
      for (let j = from; j < to; j++) size += values.len[order[j]!]!;
      const joined = new Uint8Array(size);
      let o = 0;
      for (let j = from; j < to; j++) {
        if (j > from) joined[o++] = 0x0a;
        const bytes = values.bytesOf(order[j]!);
        joined.set(bytes, o);
        o += bytes.length;
      }
      // Values hold no "\n" (parseWhitelistLine refuses control characters).
      shard = decoder.decode(joined).split("\n");
    }
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
  const seed = crypto.getRandomValues(new Uint32Array(1))[0]! | 0;
  const parsed = await readWhitelist(body, seed);
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
