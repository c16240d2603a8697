// Reads a GrayscaleCounter's admitted count from outside the Worker through Miniflare's Durable
// Object namespace, with the object's own `progress()` RPC: `admitted` is its counter row, and
// the per-platform tallies are a GROUP BY over its `admitted` rows, so their sum is the number of
// rows actually stored. Both must agree (and equal the cap when the cap was reached).
// (Miniflare's direct SQL inspection would need `unsafeInspectDurableObjects`, which wraps the
// class being measured; the RPC leaves it as deployed.)

/** { counter, rows } of the task's object (named by task id, as the edge names it); NaN when unreadable. */
export async function admittedCount(mf, taskId, { scriptName = "graycast-edge", binding = "GRAYSCALE_COUNTER" } = {}) {
  try {
    const ns = await mf.getDurableObjectNamespace(binding, scriptName);
    const progress = JSON.parse(JSON.stringify(await ns.get(ns.idFromName(taskId)).progress()));
    const rows = Object.values(progress.byPlatform ?? {}).reduce((sum, n) => sum + Number(n), 0);
    return { counter: Number(progress.admitted), rows: progress.byPlatform ? rows : NaN };
  } catch (err) {
    return { counter: NaN, rows: NaN, error: String(err.message ?? err) };
  }
}
