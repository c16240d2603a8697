// Reads a GrayscaleCounter's admitted count from outside the Worker through Miniflare's Durable
// Object namespace, with the object's own `progress()` RPC: `admitted` is its counter row, and
// the per-platform tallies are a GROUP BY over its `admitted` rows, so their sum is the number of
// rows actually stored. Both must agree (and equal the cap when the cap was reached).
// (Miniflare's direct SQL inspection would need `unsafeInspectDurableObjects`, which wraps the
// class being measured; the RPC leaves it as deployed.)

import { WORKER_NAMES } from "./host.mjs";

/** { counter, rows, reserved } of the task's object (named by task id, as the edge names it); NaN when unreadable. */
export async function admittedCount(
  mf,
  taskId,
  { scriptName = WORKER_NAMES.edge, binding = "GRAYSCALE_COUNTER" } = {},
) {
  try {
    const ns = await mf.getDurableObjectNamespace(binding, scriptName);
    const progress = JSON.parse(JSON.stringify(await ns.get(ns.idFromName(taskId)).progress()));
    const rows = Object.values(progress.byPlatform ?? {}).reduce((sum, n) => sum + Number(n), 0);
    return {
      counter: Number(progress.admitted),
      rows: progress.byPlatform ? rows : NaN,
      reserved: Number(progress.reserved ?? 0),
    };
  } catch (err) {
    return {
      counter: NaN,
      rows: NaN,
      reserved: NaN,
      error: String(err instanceof Error ? err.message : err),
    };
  }
}

/**
 * The count once the edge has settled what it admitted from admission leases: rows stable over
 * 500 ms (batches are reported 250 ms after their first user), and with `untilFree`, no slot
 * left reserved either (a lease gives back its unused slots when it ends). Bounded by `maxMs`.
 */
export async function settledCount(mf, taskId, { untilFree = false, maxMs = 15_000 } = {}) {
  const deadline = Date.now() + maxMs;
  let last = await admittedCount(mf, taskId);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await admittedCount(mf, taskId);
    const stable = now.rows === last.rows && now.counter === last.counter;
    if ((stable && (!untilFree || now.reserved === 0)) || Date.now() > deadline) return now;
    last = now;
  }
}
