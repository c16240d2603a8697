/**
 * Admission leases through the real edge Worker and GrayscaleCounter (edge-worker/src/admission-leases.ts):
 * a busy isolate takes a block of slots, admits from it without a counter call per user, settles
 * the users in batches, and gives back what it did not use. The test env turns leases off
 * (vitest.config.ts); these tests call the Worker's `fetch` with them on, each request with its
 * own ExecutionContext so its background work (lease, settle) can be awaited.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import type { CompiledTask } from "../core/grayscale/types";
import type { ManifestClaims } from "../core/manifest";
import { admitFromLease, holdsLeaseForTests, noteDirectAdmission, resetLeasesForTests, type LeaseIo, type LeaseStub } from "../edge-worker/src/admission-leases";
import edge from "../edge-worker/src/index";
import { checkQuery, client, compiledTask, counterOf, edgeEnv, newAppId, online, ORIGIN, packageRef, putSnapshot } from "./support/edge";

const ONLINE = "2.0.0";
const GRAY = "2.1.0";
const LEASE_SIZE = 16;

/**
 * Leases of 5 s: long enough that a test's users all arrive while the lease is usable even on a
 * slow machine (each test then waits for the lease to end, as its background work). The
 * exactness test uses 1 s leases, so its many leases end quickly; it does not depend on timing.
 */
const leaseEnv = { ...edgeEnv, ADMISSION_LEASE_SIZE: String(LEASE_SIZE), ADMISSION_LEASE_TTL_MS: "5000" };
const shortLeaseEnv = { ...leaseEnv, ADMISSION_LEASE_TTL_MS: "1000" };

interface Answer {
  guid: string;
  version: string | undefined;
  tickets: string[];
  /** the request's background work (lease, settle) */
  done: Promise<void>;
}

/** One GET check as `guid` with leases on; its background work is in `done`. */
async function checkAs(appId: string, guid: string, tickets: string[] = [], env: typeof leaseEnv = leaseEnv): Promise<Answer> {
  const ctx = createExecutionContext();
  const res = await edge.fetch(new Request(`${ORIGIN}/v1/check?${checkQuery(client(appId, { guid, ...(tickets.length ? { tickets } : {}) }))}`), env, ctx);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as { manifest: string; tickets?: string[] };
  return { guid, version: decodeJwt<ManifestClaims>(body.manifest).version, tickets: body.tickets ?? [], done: waitOnExecutionContext(ctx) };
}

async function appWithCap(userCap: number): Promise<{ appId: string; task: CompiledTask }> {
  const appId = newAppId();
  const task = compiledTask(GRAY, packageRef("7"), { userCap });
  await putSnapshot({ appId, revision: 1, online: online(ONLINE, packageRef("0")), tasks: [task] });
  return { appId, task };
}

/** The leases the counter granted, as it stores them. */
function leasesOf(taskId: string) {
  return runInDurableObject(counterOf(taskId), (_instance, state) =>
    state.storage.sql.exec<{ granted: number; settled: number; open: number }>("SELECT granted, settled, open FROM leases").toArray(),
  );
}

/** Users reported over all leases, leases still open, and the distinct lease sizes granted. */
function summary(leases: { granted: number; settled: number; open: number }[]) {
  return { settled: leases.reduce((n, l) => n + l.settled, 0), open: leases.filter((l) => l.open === 1).length, sizes: [...new Set(leases.map((l) => l.granted))] };
}

/**
 * First admissions of new users, one at a time, until this isolate holds a lease for the task
 * (four within one wall-clock second ask for one; a run that straddles a second needs a few
 * more). Returns their answers: all admitted directly by the counter.
 */
async function warmUntilLeased(appId: string, taskId: string): Promise<Answer[]> {
  const warm: Answer[] = [];
  for (let i = 0; i < 200 && !holdsLeaseForTests(taskId); i++) {
    if (warm.length < 40) warm.push(await checkAs(appId, `warm-${i}`));
    else await new Promise((r) => setTimeout(r, 10));
  }
  if (!holdsLeaseForTests(taskId)) throw new Error("no lease was taken");
  return warm;
}

afterEach(() => resetLeasesForTests());

describe("admission leases", { timeout: 30_000 }, () => {
  it("after a few direct admissions, admits new users from a lease and settles every one of them", async () => {
    const { appId, task } = await appWithCap(1_000);
    // First admissions go to the counter directly until four fall in one second: then a lease.
    const direct = await warmUntilLeased(appId, task.id);
    expect((await counterOf(task.id).progress()).admitted).toBe(direct.length);

    const leased = [];
    for (let i = 0; i < 10; i++) leased.push(await checkAs(appId, `leased-${i}`));
    // Answered before any of them reached the counter: all grayscale, each with a ticket.
    expect([...direct, ...leased].map((a) => a.version)).toEqual(Array(direct.length + 10).fill(GRAY));
    expect(leased.every((a) => a.tickets.length === 1)).toBe(true);

    await Promise.all([...direct, ...leased].map((a) => a.done));
    const progress = await counterOf(task.id).progress();
    expect(progress).toMatchObject({ admitted: direct.length + 10, reserved: 0, byPlatform: { android: direct.length + 10 } });
    // The leases (the first, and the next one taken when it was half used) are closed and
    // reported exactly the ten users admitted from them.
    expect(summary(await leasesOf(task.id))).toEqual({ settled: 10, open: 0, sizes: [LEASE_SIZE] });
    for (const guid of leased.map((a) => a.guid)) expect(await counterOf(task.id).isAdmitted(`g:${guid}`)).toBe(true);
  });

  it("a user admitted from the lease keeps the version on later checks, with or without the ticket, and takes one slot", async () => {
    const { appId, task } = await appWithCap(1_000);
    const warm = await warmUntilLeased(appId, task.id);
    const first = await checkAs(appId, "returning");
    const again = await checkAs(appId, "returning");
    const withTicket = await checkAs(appId, "returning", first.tickets);
    expect([first.version, again.version, withTicket.version]).toEqual([GRAY, GRAY, GRAY]);
    await Promise.all([...warm, first, again, withTicket].map((a) => a.done));
    expect(summary(await leasesOf(task.id))).toEqual({ settled: 1, open: 0, sizes: [LEASE_SIZE] });
    expect((await counterOf(task.id).progress()).admitted).toBe(warm.length + 1);
  });

  it("never admits over the cap: concurrent waves of new users fill it exactly, leases or not", async () => {
    const cap = 60;
    const { appId, task } = await appWithCap(cap);
    const answers: Answer[] = [];
    // Waves of concurrent new users, until one wave admits nobody: by then the cap is full and
    // every lease has given its unused slots back.
    for (let wave = 0; wave < 20; wave++) {
      const batch = await Promise.all(Array.from({ length: 30 }, (_, i) => checkAs(appId, `w${wave}-${i}`, [], shortLeaseEnv)));
      answers.push(...batch);
      await Promise.all(batch.map((a) => a.done));
      const progress = await counterOf(task.id).progress();
      expect(progress.admitted + progress.reserved).toBeLessThanOrEqual(cap);
      if (!batch.some((a) => a.version === GRAY) && progress.reserved === 0) break;
    }
    const admitted = answers.filter((a) => a.version === GRAY);
    expect(admitted).toHaveLength(cap);
    expect(answers.filter((a) => a.version !== GRAY).every((a) => a.version === ONLINE && a.tickets.length === 0)).toBe(true);
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: cap, reserved: 0 });
    // The leases were used, and every slot they took is accounted for.
    const leases = await leasesOf(task.id);
    expect(leases.length).toBeGreaterThan(0);
    expect(leases.every((l) => l.open === 0)).toBe(true);
    const rows = await runInDurableObject(counterOf(task.id), (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM admitted").one().n);
    expect(rows).toBe(cap);
    for (const a of admitted) expect(await counterOf(task.id).isAdmitted(`g:${a.guid}`)).toBe(true);
  }, 60_000);

  it("stops admitting from a lease once the task's cap changes, and gives its slots back", async () => {
    const { appId, task } = await appWithCap(1_000);
    const warm = await warmUntilLeased(appId, task.id);
    const fromLease = await checkAs(appId, "before-change");
    // A new revision with another cap: the lease was granted under the old one.
    await putSnapshot({ appId, revision: 2, online: online(ONLINE, packageRef("0")), tasks: [{ ...task, userCap: 900 }] });
    const after = await checkAs(appId, "after-change");
    expect([fromLease.version, after.version]).toEqual([GRAY, GRAY]);
    await Promise.all([...warm, fromLease, after].map((a) => a.done));
    // The old lease reported its one user and closed; the direct admission after the change may
    // have taken a new lease under the new cap, unused and closed since.
    const leases = await leasesOf(task.id);
    expect(leases.filter((l) => l.settled === 1)).toHaveLength(1);
    expect(summary(leases)).toMatchObject({ settled: 1, open: 0 });
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: warm.length + 2, reserved: 0 });
  });

  it("takes no lease when the counter is off (ADMISSION_LEASE_SIZE 0): every first admission is a counter call", async () => {
    const { appId, task } = await appWithCap(1_000);
    const answers = [];
    for (let i = 0; i < 8; i++) {
      const ctx = createExecutionContext();
      const res = await edge.fetch(new Request(`${ORIGIN}/v1/check?${checkQuery(client(appId, { guid: `off-${i}` }))}`), { ...leaseEnv, ADMISSION_LEASE_SIZE: "0" }, ctx);
      expect(res.status).toBe(200);
      await waitOnExecutionContext(ctx);
      answers.push(i);
    }
    expect(await leasesOf(task.id)).toEqual([]);
    expect((await counterOf(task.id).progress()).admitted).toBe(answers.length);
  });
});

describe("admission lease reports when the counter's answers get lost", { timeout: 30_000 }, () => {
  /**
   * The real counter behind a link that loses answers: the call reaches the object (and is
   * applied), then the caller sees an error. `lose(n)` loses the answers of the next n settle calls.
   */
  function lossyIo(taskId: string, waits: Promise<unknown>[]) {
    let lost = 0;
    let lostLeases = 0;
    const io: LeaseIo = {
      size: 8,
      ttlMs: 5_000,
      waitUntil: (work) => void waits.push(work),
      stub: () => {
        const real = counterOf(taskId) as unknown as LeaseStub;
        return {
          lease: async (cap, want, ttlMs, id) => {
            const lease = await real.lease(cap, want, ttlMs, id);
            if (lostLeases > 0) {
              lostLeases--;
              throw new Error("connection reset after the lease was granted");
            }
            return lease;
          },
          settle: async (leaseId, batch, admissions, done) => {
            const result = await real.settle(leaseId, batch, admissions, done);
            if (lost > 0) {
              lost--;
              throw new Error("connection reset after the call was applied");
            }
            return result;
          },
        };
      },
    };
    return { io, lose: (n: number) => (lost = n), loseLeases: (n: number) => (lostLeases = n) };
  }

  const META = { hostAppId: "ha_lossy", platform: "ios" as const };

  it("resends a batch unchanged until the object has it: no user dropped, none counted twice, the cap kept", async () => {
    const taskId = `gt_lossy_${crypto.randomUUID().slice(0, 8)}`;
    const cap = 40;
    const waits: Promise<unknown>[] = [];
    const { io, lose } = lossyIo(taskId, waits);
    // Background work other than the lease's own timer (which ends the lease when it fires).
    let timers: Promise<unknown>[] = [];
    const drain = async () => {
      while (waits.length > 0) await Promise.allSettled(waits.splice(0));
    };
    // Demand: four direct admissions (the test plays the edge: admit, then note it), then a lease.
    // Four direct admissions noted within one second (the same `now`) ask for a lease.
    let now = Date.now();
    for (let i = 0; i < 4; i++) {
      expect(await counterOf(taskId).admit(`d${i}`, cap, META)).toMatchObject({ admitted: true });
      noteDirectAdmission(taskId, cap, now, io);
    }
    // Every answer of the first reports is lost (all attempts), then u2 arrives and starts a new loop.
    lose(3);
    // The lease is the isolate's once its `lease` call has answered.
    let fromLease = false;
    for (let i = 0; i < 2000 && !fromLease; i++) {
      fromLease = admitFromLease(taskId, cap, "u1", META, now, io);
      if (!fromLease) await new Promise((r) => setTimeout(r, 5));
    }
    expect(fromLease).toBe(true);
    timers = waits.splice(0, 1);
    await drain();
    expect(await counterOf(taskId).isAdmitted("u1")).toBe(true);
    now = Date.now();
    expect(admitFromLease(taskId, cap, "u2", META, now, io)).toBe(true);
    expect(admitFromLease(taskId, cap, "u3", META, now, io)).toBe(true);
    await drain();
    // The lease ends (its timer in waitUntil), reporting the rest with `done`.
    await Promise.allSettled(timers);
    await drain();
    const progress = await counterOf(taskId).progress();
    expect(progress).toMatchObject({ admitted: 7, reserved: 0 });
    for (const user of ["u1", "u2", "u3"]) expect(await counterOf(taskId).isAdmitted(user)).toBe(true);
    const leases = await leasesOf(taskId);
    expect(summary(leases)).toMatchObject({ settled: 3, open: 0 });
  });

  it("gives back a lease whose grant never reached the isolate", async () => {
    const taskId = `gt_lostlease_${crypto.randomUUID().slice(0, 8)}`;
    const cap = 400;
    const waits: Promise<unknown>[] = [];
    const { io, loseLeases } = lossyIo(taskId, waits);
    loseLeases(3); // every attempt of the one `lease` call: the object grants it, the isolate never hears
    const now = Date.now();
    for (let i = 0; i < 4; i++) {
      expect(await counterOf(taskId).admit(`d${i}`, cap, META)).toMatchObject({ admitted: true });
      noteDirectAdmission(taskId, cap, now, io);
    }
    while (waits.length > 0) await Promise.allSettled(waits.splice(0));
    expect(holdsLeaseForTests(taskId)).toBe(false);
    // The isolate ended it under the id it had chosen: nothing stays reserved.
    expect(summary(await leasesOf(taskId))).toEqual({ settled: 0, open: 0, sizes: [8] });
    expect(await counterOf(taskId).progress()).toMatchObject({ admitted: 4, reserved: 0, stranded: 0 });
  });
});
