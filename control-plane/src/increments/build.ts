/**
 * Builds one planned increment (./plan.ts) in the builder Worker (control-plane/src/builder.ts),
 * never in the admin Worker: a build is seconds of synchronous CPU (unzip, zstd WASM) that would
 * stall every admin request sharing its isolate. It reads both packages from R2, unzips them,
 * checks every file against the file list recorded at upload, makes the increment
 * (core/increment.ts), checks that it applies to exactly the target's files, stores it
 * content-addressed in R2 and republishes the snapshot so the edge can offer it. Only increments
 * smaller than the full package are offered (PRODUCT.md D3).
 *
 * States (docs/increments.md): a build claims a `queued` row (or a `building` one whose builder
 * went silent for STALE_BUILDING_MS) with one conditional UPDATE that sets `building` and
 * `started_at`; only the claimer builds, so a redelivered queue message is a no-op. The result is
 * one more conditional UPDATE (`built` / `skipped` / `failed` with `built_at`, the finish time)
 * after the content-addressed object is in R2: no state in between is ever half-written.
 *
 * Memory: a Worker has 128 MB. Both versions unpacked, the dictionary and content copies, and
 * zstd's tables must fit, so pairs over MAX_PAIR_UNPACKED_BYTES are skipped (clients of those
 * get the full package) and the zstd level drops with size (core `incrementLevel`).
 */
import { and, eq, or, sql } from "drizzle-orm";
import { unzipSync } from "fflate";
import { encryptObject } from "../../../core/encryption";
import {
  applyIncrement,
  buildDeltaIncrement,
  buildIncrement,
  type FileEntry,
  filesDigest,
  incrementKey,
  PRELUDE_BYTES,
} from "../../../core/increment";
import { fileManifestKey } from "../../../core/snapshot";
import type { Db } from "../db/client";
import { increments, versions } from "../db/schema";
import { sha256Hex } from "../lib/encoding";
import { plainPackageKey, versionKey } from "../services/package-encryption";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "../services/snapshot";
import { zstdCompress, zstdDecompress } from "./zstd";

export const MAX_PAIR_UNPACKED_BYTES = 24 * 1024 * 1024;
/**
 * Attempts before a direct build (`buildIncrementRow` without a queue) marks a row failed. Equals
 * the queue's deliveries per message (`max_retries = 3` in control-plane/builder/wrangler.toml, plus the first), after
 * which the queue moves the message to the dead-letter queue instead (./queue.ts).
 */
export const MAX_ATTEMPTS = 4;
/**
 * A `building` row whose builder has not finished after this long is presumed dead (the isolate
 * was killed: memory, CPU) and may be claimed again. A queue consumer runs at most 15 minutes.
 */
export const STALE_BUILDING_MS = 15 * 60 * 1000;

type IncrementRow = typeof increments.$inferSelect;
type VersionRow = typeof versions.$inferSelect;

export type BuildOutcome =
  | { status: "built"; sha256: string; size: number }
  | { status: "skipped" | "failed"; detail: string }
  | { status: "gone" };

interface Unpacked {
  files: FileEntry[];
  digest: string;
  bytes: Map<string, Uint8Array>;
}

/** The version's files from its zip in R2, each checked against the list recorded at upload. */
async function unpack(bucket: R2Bucket, v: VersionRow): Promise<Unpacked> {
  const [zipObject, listObject] = await Promise.all([
    bucket.get(plainPackageKey(v)),
    bucket.get(fileManifestKey(v.packageSha256)),
  ]);
  if (!zipObject || !listObject)
    throw new Error(`package ${v.packageSha256} of ${v.version} is missing from R2`);
  const { files } = (await listObject.json()) as { files: FileEntry[] };
  const wanted = new Set(files.map((f) => f.path));
  const entries = unzipSync(new Uint8Array(await zipObject.arrayBuffer()), {
    filter: (f) => wanted.has(f.name),
  });
  const bytes = new Map<string, Uint8Array>();
  for (const f of files) {
    const data = entries[f.path];
    if (!data || data.byteLength !== f.size || (await sha256Hex(data)) !== f.sha256)
      throw new Error(`${v.version}: ${JSON.stringify(f.path)} differs from its upload record`);
    bytes.set(f.path, data);
  }
  const digest = await filesDigest(files, sha256Hex);
  if (v.filesSha256 && v.filesSha256 !== digest)
    throw new Error(`${v.version}: files digest differs from its upload record`);
  return { files, digest, bytes };
}

const bytesOf = (u: Unpacked) => (path: string) => {
  const data = u.bytes.get(path);
  if (!data) throw new Error(`${JSON.stringify(path)} is not in the package`);
  return data;
};

const versionOf = (db: Db, appId: string, version: string, sha256: string) =>
  db
    .select()
    .from(versions)
    .where(
      and(
        eq(versions.miniProgramId, appId),
        eq(versions.version, version),
        eq(versions.packageSha256, sha256),
      ),
    )
    .get();

/**
 * Claims row `id` for one build attempt: `queued` (or `building` and stale) -> `building`, with
 * `started_at` and one more attempt, in one conditional UPDATE. Undefined when another build owns
 * the row or it is already done: the caller has nothing to do.
 */
export async function claimIncrement(db: Db, id: string, now: number): Promise<IncrementRow | undefined> {
  return db
    .update(increments)
    .set({ status: "building", startedAt: now, builtAt: null, attempts: sql`${increments.attempts} + 1` })
    .where(
      and(
        eq(increments.id, id),
        or(
          eq(increments.status, "queued"),
          and(eq(increments.status, "building"), sql`${increments.startedAt} < ${now - STALE_BUILDING_MS}`),
        ),
      ),
    )
    .returning()
    .get();
}

/** Ends the claimed attempt (one statement; a no-op if a stale claim was taken over meanwhile). */
async function finish(db: Db, row: IncrementRow, set: Partial<IncrementRow>): Promise<boolean> {
  const update = db
    .update(increments)
    .set(set)
    .where(
      and(
        eq(increments.id, row.id),
        eq(increments.status, "building"),
        eq(increments.startedAt, row.startedAt ?? 0),
      ),
    )
    .returning({ id: increments.id });
  if (set.status !== "built") return (await update.all()).length > 0;
  // A built increment changes what clients are offered: the snapshot revision is bumped in the
  // same batch, so a failed publish after it is still caught by the sweep (services/snapshot.ts).
  const [done] = await db.batch([update, bumpSnapshotRevision(db, row.miniProgramId)]);
  return done.length > 0;
}

export interface BuildOptions {
  /**
   * Attempts after which a failed build marks the row `failed` (default MAX_ATTEMPTS). The queue
   * consumer passes Infinity: there the queue counts deliveries and its dead-letter queue ends
   * the row, so every failure goes back to `queued` and is retried with backoff.
   */
  giveUpAfter?: number;
}

/**
 * Builds the increment `id` if it can be claimed (see claimIncrement). Safe to run any number of
 * times and concurrently for one row (queues deliver at least once): only the claimer builds, the
 * object is content-addressed and the row changes in single statements. A failed attempt puts
 * the row back to `queued` with the error in `detail` and throws (so a queue retries it), or marks
 * it `failed` once `giveUpAfter` attempts are used.
 */
export async function buildIncrementRow(
  db: Db,
  bucket: R2Bucket,
  id: string,
  now = Date.now(),
  packageKeySecret?: string,
  options: BuildOptions = {},
): Promise<BuildOutcome> {
  const giveUpAfter = options.giveUpAfter ?? MAX_ATTEMPTS;
  // The finish time is read when the attempt ends (never before its start).
  const clock = () => Math.max(Date.now(), now);
  const row = await claimIncrement(db, id, now);
  if (!row) return { status: "gone" };
  // Attempts that never reached the catch below (the isolate was killed: memory, CPU) count too.
  if (row.attempts > giveUpAfter) {
    const detail = `gave up after ${row.attempts - 1} attempts (the last ones ended without a result)`;
    await finish(db, row, {
      status: "failed",
      detail: row.detail ? `${detail}; last error: ${row.detail}` : detail,
      builtAt: clock(),
    });
    return { status: "failed", detail };
  }
  const [from, to] = await Promise.all([
    versionOf(db, row.miniProgramId, row.fromVersion, row.fromPackageSha256),
    versionOf(db, row.miniProgramId, row.toVersion, row.toPackageSha256),
  ]);
  if (!from || !to) {
    await finish(db, row, {
      status: "failed",
      detail: "a version of this pair no longer exists",
      builtAt: clock(),
    });
    return { status: "failed", detail: "version gone" };
  }
  if (from.unpackedSize + to.unpackedSize > MAX_PAIR_UNPACKED_BYTES) {
    const detail = `the two versions unpack to ${from.unpackedSize + to.unpackedSize} bytes, over the ${MAX_PAIR_UNPACKED_BYTES} a Worker builds`;
    await finish(db, row, { status: "skipped", detail, builtAt: clock() });
    return { status: "skipped", detail };
  }
  let stored: { sha256: string; size: number };
  try {
    const [base, target] = await Promise.all([unpack(bucket, from), unpack(bucket, to)]);
    const pair = {
      from: { files: base.files, bytesOf: bytesOf(base) },
      to: { files: target.files, bytesOf: bytesOf(target) },
      compress: zstdCompress,
      sha256: sha256Hex,
    };
    // Format 3 for every client; format 4 (the delta format) for clients that read it, kept only
    // when smaller. Both use the WASM zstd: workerd's node:zlib zstd drops the `dictionary`
    // option (measured, docs/increments.md), so a native frame would not be a patch at all.
    const { bytes, prelude } = await buildIncrement(pair);
    const contentFrame = bytes.subarray(PRELUDE_BYTES + prelude.planFrameSize);
    const delta = await buildDeltaIncrement({ ...pair, level: prelude.level, contentFrame });
    const keepDelta = delta.bytes.byteLength < bytes.byteLength;
    // What a client will do, done once here: each increment must give exactly the target's files.
    for (const increment of keepDelta ? [bytes, delta.bytes] : [bytes]) {
      await applyIncrement({
        increment,
        base: base.files,
        bytesOf: bytesOf(base),
        expect: { from: base.digest, to: target.digest },
        decompress: zstdDecompress,
        sha256: sha256Hex,
      });
    }
    const sha256 = await sha256Hex(bytes);
    const deltaSha256 = keepDelta ? await sha256Hex(delta.bytes) : null;
    const finishedAt = clock();
    const smallest = keepDelta ? delta.bytes.byteLength : bytes.byteLength;
    if (smallest >= to.packageSize) {
      const detail = `the increment (${smallest} bytes) is not smaller than the full package (${to.packageSize} bytes)`;
      await finish(db, row, {
        status: "skipped",
        detail,
        sha256,
        size: bytes.byteLength,
        fromFilesSha256: base.digest,
        builtAt: finishedAt,
      });
      return { status: "skipped", detail };
    }
    const built = {
      status: "built" as const,
      sha256,
      size: bytes.byteLength,
      deltaSha256,
      deltaSize: keepDelta ? delta.bytes.byteLength : null,
      fromFilesSha256: base.digest,
      detail: `zstd level ${prelude.level}${keepDelta ? `; delta format ${delta.bytes.byteLength} bytes (${["delta", "delta+zstd", "zstd"][delta.prelude.coding]})` : ""}`,
      builtAt: finishedAt,
    };
    const objects: [Uint8Array, string][] = [[bytes, sha256]];
    if (keepDelta && deltaSha256) objects.push([delta.bytes, deltaSha256]);
    if (to.encKeyWrapped) {
      // Encrypted target: only ciphertexts are stored (under the target version's key), each
      // with its own IV.
      const key = await versionKey(packageKeySecret, to);
      const sealed: { sha256: string; size: number; iv: string }[] = [];
      for (const [plain] of objects) {
        const { ciphertext, iv } = await encryptObject(key, plain);
        const encSha256 = await sha256Hex(ciphertext);
        await bucket.put(incrementKey(encSha256), ciphertext, {
          sha256: encSha256,
          httpMetadata: { contentType: "application/octet-stream" },
        });
        sealed.push({ sha256: encSha256, size: ciphertext.byteLength, iv });
      }
      const [enc, deltaEnc] = sealed;
      // A fresh IV makes each build's ciphertext its own object: if a takeover of a stale claim
      // finished first, ours are referenced by nothing and go.
      const won = await finish(db, row, {
        ...built,
        encSha256: enc!.sha256,
        encSize: enc!.size,
        encIv: enc!.iv,
        deltaEncSha256: deltaEnc?.sha256 ?? null,
        deltaEncSize: deltaEnc?.size ?? null,
        deltaEncIv: deltaEnc?.iv ?? null,
      });
      if (!won) for (const s of sealed) await bucket.delete(incrementKey(s.sha256));
    } else {
      for (const [plain, key] of objects) {
        if (!(await bucket.head(incrementKey(key)))) {
          await bucket.put(incrementKey(key), plain, {
            sha256: key,
            httpMetadata: { contentType: "application/octet-stream" },
          });
        }
      }
      await finish(db, row, built);
    }
    stored = { sha256, size: bytes.byteLength };
  } catch (err) {
    const detail = String(err instanceof Error ? err.message : err).slice(0, 500);
    const failed = row.attempts >= giveUpAfter;
    await finish(
      db,
      row,
      failed ? { status: "failed", detail, builtAt: clock() } : { status: "queued", detail },
    );
    if (!failed) throw err;
    return { status: "failed", detail };
  }
  // The row says "built" and the revision is bumped from here on: a failed publish is logged and
  // left to the cron's snapshot sweep.
  await publishCurrentSnapshot(db, bucket, row.miniProgramId);
  return { status: "built", ...stored };
}
