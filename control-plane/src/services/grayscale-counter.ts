/**
 * The control plane's reads of a task's GrayscaleCounter (durable-objects/grayscale-counter.ts,
 * one object per capped task, `getByName(taskId)`). The control plane never admits anyone: it
 * reads progress (task progress, edits, the cron's cap check) and membership (explain).
 */
import type { CounterProgress } from "../../../durable-objects/grayscale-counter";

export type { CounterProgress };

/**
 * The admin Worker's GRAYSCALE_COUNTER binding: `wrangler types` (control-plane/worker-configuration.d.ts)
 * types it with the edge Worker's GrayscaleCounter class, so its RPC methods are typed here.
 */
export type CounterNamespace = AdminEnv["GRAYSCALE_COUNTER"];

function counter(ns: CounterNamespace, taskId: string) {
  return ns.getByName(taskId);
}

/** Admitted users so far, by host app, platform and hour of admission, and slots leased to edge isolates. */
export async function counterProgress(ns: CounterNamespace, taskId: string): Promise<CounterProgress> {
  const p = await counter(ns, taskId).progress();
  return {
    admitted: p.admitted,
    reserved: p.reserved,
    stranded: p.stranded,
    byHostApp: { ...p.byHostApp },
    byPlatform: { ...p.byPlatform },
    byHour: p.byHour.map((h) => ({ hour: h.hour, admitted: h.admitted })),
  };
}

/** Whether the counter ever admitted `userKey` (read only). */
export async function counterHasAdmitted(
  ns: CounterNamespace,
  taskId: string,
  userKey: string,
): Promise<boolean> {
  return counter(ns, taskId).isAdmitted(userKey);
}
