/**
 * The control plane's reads of a task's GrayscaleCounter (durable-objects/grayscale-counter.ts,
 * one object per capped task, `getByName(taskId)`). The control plane never admits anyone: it
 * reads progress (task progress, edits, the cron's cap check) and membership (explain).
 *
 * A task split into cap shards (`capShards` K > 1, docs/scale.md 5b) has its users in K shard
 * objects (`${taskId}#${i}`) and its coordinator under the task id: progress sums the shards, a
 * user's membership is read from their shard (core `capShardOf`), and `reclaimShardSlots` takes
 * back the slots shards hold unused before a lowered cap is checked.
 */
import { capShardName, capShardOf } from "../../../core/grayscale/rules";
import type { CounterProgress } from "../../../durable-objects/grayscale-counter";

export type { CounterProgress };

/**
 * The admin Worker's GRAYSCALE_COUNTER binding: `wrangler types` (control-plane/worker-configuration.d.ts)
 * types it with the edge Worker's GrayscaleCounter class, so its RPC methods are typed here.
 */
export type CounterNamespace = AdminEnv["GRAYSCALE_COUNTER"];

function counter(ns: CounterNamespace, name: string) {
  return ns.getByName(name);
}

async function readProgress(ns: CounterNamespace, name: string): Promise<CounterProgress> {
  const p = await counter(ns, name).progress();
  return {
    admitted: p.admitted,
    reserved: p.reserved,
    stranded: p.stranded,
    leased: p.leased ?? 0,
    free: p.free ?? 0,
    byHostApp: { ...p.byHostApp },
    byPlatform: { ...p.byPlatform },
    byHour: p.byHour.map((h) => ({ hour: h.hour, admitted: h.admitted })),
  };
}

/**
 * Admitted users so far, by host app, platform and hour of admission, and slots leased to edge
 * isolates. For a sharded task, the sums over its shards (read at once), and `reserved` also
 * counts the slots the coordinator granted to shards that are not admitted, leased or stranded
 * there (held free by a shard, or granted by an answer a shard has not received yet): slots no
 * new user can take from the coordinator. So admitted + reserved + stranded is what the cap
 * has given out, and "cap reached" (the cron) is admitted + stranded >= cap as before.
 */
export async function counterProgress(
  ns: CounterNamespace,
  taskId: string,
  shards = 1,
): Promise<CounterProgress> {
  if (shards <= 1) return readProgress(ns, taskId);
  const [coordinator, ...parts] = await Promise.all([
    readProgress(ns, taskId),
    ...Array.from({ length: shards }, (_, i) => readProgress(ns, capShardName(taskId, shards, i))),
  ]);
  const sum: CounterProgress = {
    admitted: coordinator.admitted,
    reserved: coordinator.reserved,
    stranded: coordinator.stranded,
    leased: coordinator.leased ?? 0,
    byHostApp: { ...coordinator.byHostApp },
    byPlatform: { ...coordinator.byPlatform },
    byHour: [],
  };
  const hours = new Map<number, number>(coordinator.byHour.map((h) => [h.hour, h.admitted]));
  let usedInShards = 0;
  for (const p of parts) {
    sum.admitted += p.admitted;
    sum.reserved += p.reserved;
    sum.stranded += p.stranded;
    usedInShards += p.admitted + p.reserved + p.stranded;
    for (const [k, n] of Object.entries(p.byHostApp)) sum.byHostApp[k] = (sum.byHostApp[k] ?? 0) + n;
    for (const [k, n] of Object.entries(p.byPlatform)) sum.byPlatform[k] = (sum.byPlatform[k] ?? 0) + n;
    for (const h of p.byHour) hours.set(h.hour, (hours.get(h.hour) ?? 0) + h.admitted);
  }
  sum.reserved += Math.max(0, (coordinator.leased ?? 0) - usedInShards);
  sum.byHour = [...hours].sort((a, b) => a[0] - b[0]).map(([hour, admitted]) => ({ hour, admitted }));
  return sum;
}

/** Whether the counter (the user's shard, for a sharded task) ever admitted `userKey` (read only). */
export async function counterHasAdmitted(
  ns: CounterNamespace,
  taskId: string,
  userKey: string,
  shards = 1,
): Promise<boolean> {
  return counter(ns, capShardName(taskId, shards, capShardOf(taskId, userKey, shards))).isAdmitted(userKey);
}

/**
 * Takes back the slots a sharded task's shards hold unused (the coordinator's `reclaim`), so a
 * lowered cap is checked against slots really used; nothing for an unsharded task. `failed`:
 * shards that did not answer, whose slots stay counted.
 */
export async function reclaimShardSlots(
  ns: CounterNamespace,
  taskId: string,
  shards = 1,
): Promise<{ returned: number; failed: number }> {
  if (shards <= 1) return { returned: 0, failed: 0 };
  const r = await counter(ns, taskId).reclaim();
  return { returned: r.returned, failed: r.failed };
}
