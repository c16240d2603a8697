/**
 * Admission leases through the real edge check and GrayscaleCounter (edge-worker/src/admission-leases.ts):
 * a busy isolate takes a block of slots, admits from it without a counter call per user, settles
 * the users in batches, and gives back what it did not use. The test env turns leases off
 * (vitest.config.ts); these tests run the check with them on, each request with its own
 * ExecutionContext so its background work (lease, settle) can be awaited.
 *
 * Time is the test's (test/support/clock.ts): it stands still while a test sends its checks, so
 * "four admissions within one second" and "the lease is still usable" hold on any machine, and
 * it moves only when the background work sleeps (report delay, lease end), so nothing polls or
 * waits out a real lease.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CounterNamespace,
  counterHasAdmitted,
  counterProgress,
} from "../control-plane/src/services/grayscale-counter";
import { capShardName } from "../core/grayscale/rules";
import type { CompiledTask } from "../core/grayscale/types";
import type { ManifestClaims } from "../core/manifest";
import {
  admitFromLease,
  DEMAND,
  holdsLeaseForTests,
  type LeaseIo,
  type LeaseStub,
  noteDirectAdmission,
  resetLeasesForTests,
} from "../edge-worker/src/admission-leases";
import edge from "../edge-worker/src/index";
import { answerCheck } from "../edge-worker/src/routes/check";
import { ManualClock } from "./support/clock";
import {
  checkQuery,
  client,
  compiledTask,
  counterOf,
  edgeEnv,
  newAppId,
  ORIGIN,
  online,
  packageRef,
  putSnapshot,
} from "./support/edge";

const ONLINE = "2.0.0";
const GRAY = "2.1.0";
const LEASE_SIZE = 16;

/** Leases of 5 s of the test's time; the exactness test uses 1 s leases, so it goes through many. */
const leaseEnv = { ...edgeEnv, ADMISSION_LEASE_SIZE: String(LEASE_SIZE), ADMISSION_LEASE_TTL_MS: "5000" };
const shortLeaseEnv = { ...leaseEnv, ADMISSION_LEASE_TTL_MS: "1000" };

interface Answer {
  guid: string;
  version: string | undefined;
  tickets: string[];
  /** the request's background work (lease, settle): it sleeps on the clock, see `finish` */
  done: Promise<void>;
}

/** One GET check as `guid` with leases on, at the clock's time; its background work is in `done`. */
async function checkAs(
  clock: ManualClock,
  appId: string,
  guid: string,
  tickets: string[] = [],
  env: typeof leaseEnv = leaseEnv,
): Promise<Answer> {
  const ctx = createExecutionContext();
  const url = `${ORIGIN}/v1/check?${checkQuery(client(appId, { guid, ...(tickets.length ? { tickets } : {}) }))}`;
  const res = await answerCheck(new Request(url), url, env, ctx, clock);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as { manifest: string; tickets?: string[] };
  return {
    guid,
    version: decodeJwt<ManifestClaims>(body.manifest).version,
    tickets: body.tickets ?? [],
    done: waitOnExecutionContext(ctx),
  };
}

/** Runs the answers' background work to its end, time moving whenever it sleeps (leases end, reports go out). */
const finish = (clock: ManualClock, answers: Answer[]) =>
  clock.runUntilSettled(Promise.all(answers.map((a) => a.done)));

async function appWithCap(userCap: number): Promise<{ appId: string; task: CompiledTask }> {
  const appId = newAppId();
  const task = compiledTask(GRAY, packageRef("7"), { userCap });
  await putSnapshot({ appId, revision: 1, online: online(ONLINE, packageRef("0")), tasks: [task] });
  return { appId, task };
}

/** The leases the counter granted, as it stores them. */
function leasesOf(taskId: string) {
  return runInDurableObject(counterOf(taskId), (_instance, state) =>
    state.storage.sql
      .exec<{ granted: number; settled: number; open: number }>("SELECT granted, settled, open FROM leases")
      .toArray(),
  );
}

/** Users reported over all leases, leases still open, and the distinct lease sizes granted. */
function summary(leases: { granted: number; settled: number; open: number }[]) {
  return {
    settled: leases.reduce((n, l) => n + l.settled, 0),
    open: leases.filter((l) => l.open === 1).length,
    sizes: [...new Set(leases.map((l) => l.granted))],
  };
}

/**
 * DEMAND first admissions of new users at one instant: each is a counter call, and the last
 * asks for a lease in its background work. Returns once the lease is held (the acquisition
 * then sleeps until the lease's end: the event this waits for).
 */
async function warmUntilLeased(clock: ManualClock, appId: string, taskId: string): Promise<Answer[]> {
  const warm: Answer[] = [];
  for (let i = 0; i < DEMAND; i++) warm.push(await checkAs(clock, appId, `warm-${i}`));
  expect(holdsLeaseForTests(taskId)).toBe(false);
  // The last one's background work ends only once it took no lease (then this fails).
  await Promise.race([clock.sleeping(), warm[DEMAND - 1]!.done]);
  expect(holdsLeaseForTests(taskId)).toBe(true);
  return warm;
}

afterEach(() => resetLeasesForTests());

describe("admission leases", () => {
  it("after a few direct admissions, admits new users from a lease and settles every one of them", async () => {
    const clock = new ManualClock();
    const { appId, task } = await appWithCap(1_000);
    // First admissions go to the counter directly until four fall in one second: then a lease.
    const direct = await warmUntilLeased(clock, appId, task.id);
    expect((await counterOf(task.id).progress()).admitted).toBe(DEMAND);

    const leased = [];
    for (let i = 0; i < 10; i++) leased.push(await checkAs(clock, appId, `leased-${i}`));
    // Answered before any of them reached the counter: all grayscale, each with a ticket.
    expect([...direct, ...leased].map((a) => a.version)).toEqual(Array(direct.length + 10).fill(GRAY));
    expect(leased.every((a) => a.tickets.length === 1)).toBe(true);

    await finish(clock, [...direct, ...leased]);
    const progress = await counterOf(task.id).progress();
    expect(progress).toMatchObject({
      admitted: direct.length + 10,
      reserved: 0,
      byPlatform: { android: direct.length + 10 },
    });
    // The leases (the first, and the next one taken when it was half used) are closed and
    // reported exactly the ten users admitted from them.
    expect(summary(await leasesOf(task.id))).toEqual({ settled: 10, open: 0, sizes: [LEASE_SIZE] });
    for (const guid of leased.map((a) => a.guid))
      expect(await counterOf(task.id).isAdmitted(`g:${guid}`)).toBe(true);
  });

  it("a user admitted from the lease keeps the version on later checks, with or without the ticket, and takes one slot", async () => {
    const clock = new ManualClock();
    const { appId, task } = await appWithCap(1_000);
    const warm = await warmUntilLeased(clock, appId, task.id);
    const first = await checkAs(clock, appId, "returning");
    const again = await checkAs(clock, appId, "returning");
    const withTicket = await checkAs(clock, appId, "returning", first.tickets);
    expect([first.version, again.version, withTicket.version]).toEqual([GRAY, GRAY, GRAY]);
    await finish(clock, [...warm, first, again, withTicket]);
    expect(summary(await leasesOf(task.id))).toEqual({ settled: 1, open: 0, sizes: [LEASE_SIZE] });
    expect((await counterOf(task.id).progress()).admitted).toBe(warm.length + 1);
  });

  it("never admits over the cap: concurrent waves of new users fill it exactly, leases or not", async () => {
    const cap = 60;
    const clock = new ManualClock();
    const { appId, task } = await appWithCap(cap);
    const answers: Answer[] = [];
    // Waves of concurrent new users, until one wave admits nobody: by then the cap is full and
    // every lease has given its unused slots back.
    for (let wave = 0; wave < 20; wave++) {
      const batch = await Promise.all(
        Array.from({ length: 30 }, (_, i) => checkAs(clock, appId, `w${wave}-${i}`, [], shortLeaseEnv)),
      );
      answers.push(...batch);
      await finish(clock, batch);
      const progress = await counterOf(task.id).progress();
      expect(progress.admitted + progress.reserved).toBeLessThanOrEqual(cap);
      if (!batch.some((a) => a.version === GRAY) && progress.reserved === 0) break;
    }
    const admitted = answers.filter((a) => a.version === GRAY);
    expect(admitted).toHaveLength(cap);
    expect(
      answers.filter((a) => a.version !== GRAY).every((a) => a.version === ONLINE && a.tickets.length === 0),
    ).toBe(true);
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: cap, reserved: 0 });
    // The leases were used, and every slot they took is accounted for.
    const leases = await leasesOf(task.id);
    expect(leases.length).toBeGreaterThan(0);
    expect(leases.every((l) => l.open === 0)).toBe(true);
    const rows = await runInDurableObject(
      counterOf(task.id),
      (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM admitted").one().n,
    );
    expect(rows).toBe(cap);
    for (const a of admitted) expect(await counterOf(task.id).isAdmitted(`g:${a.guid}`)).toBe(true);
  });

  it("a task split into 4 cap shards: edge leases come from each user's shard, and waves fill the cap exactly", async () => {
    const cap = 200;
    const shards = 4;
    const clock = new ManualClock();
    const appId = newAppId();
    const task = compiledTask(GRAY, packageRef("7"), { userCap: cap, capShards: shards });
    await putSnapshot({ appId, revision: 1, online: online(ONLINE, packageRef("0")), tasks: [task] });
    const ns = edgeEnv.GRAYSCALE_COUNTER as unknown as CounterNamespace;
    const answers: Answer[] = [];
    for (let wave = 0; wave < 20; wave++) {
      const batch = await Promise.all(
        Array.from({ length: 40 }, (_, i) => checkAs(clock, appId, `s${wave}-${i}`, [], shortLeaseEnv)),
      );
      answers.push(...batch);
      await finish(clock, batch);
      const progress = await counterProgress(ns, task.id, shards);
      expect(progress.admitted + progress.reserved).toBeLessThanOrEqual(cap);
      if (!batch.some((a) => a.version === GRAY) && progress.reserved === 0) break;
    }
    const admitted = answers.filter((a) => a.version === GRAY);
    expect(admitted).toHaveLength(cap);
    expect(await counterProgress(ns, task.id, shards)).toMatchObject({
      admitted: cap,
      reserved: 0,
      stranded: 0,
    });
    // Edge leases were taken from the shards (not from the coordinator, which admits nobody).
    const shardLeases = (
      await Promise.all(Array.from({ length: shards }, (_, i) => leasesOf(capShardName(task.id, shards, i))))
    ).flat();
    expect(shardLeases.length).toBeGreaterThan(0);
    expect(shardLeases.every((l) => l.open === 0)).toBe(true);
    expect(await leasesOf(task.id)).toEqual([]);
    expect((await counterOf(task.id).progress()).admitted).toBe(0);
    for (const a of admitted) expect(await counterHasAdmitted(ns, task.id, `g:${a.guid}`, shards)).toBe(true);
  });

  it("stops admitting from a lease once the task's cap changes, and gives its slots back", async () => {
    const clock = new ManualClock();
    const { appId, task } = await appWithCap(1_000);
    const warm = await warmUntilLeased(clock, appId, task.id);
    const fromLease = await checkAs(clock, appId, "before-change");
    // A new revision with another cap: the lease was granted under the old one.
    await putSnapshot({
      appId,
      revision: 2,
      online: online(ONLINE, packageRef("0")),
      tasks: [{ ...task, userCap: 900 }],
    });
    // The edge rereads its snapshot once its time is past the last read (SNAPSHOT_TTL_MS is 0 in
    // tests), and the snapshot cache stamps reads with the wall clock (edge-worker/src/snapshot-cache.ts):
    // bring this clock past that stamp (well within the lease).
    clock.advance(Math.max(1, Date.now() + 1 - clock.now()));
    const after = await checkAs(clock, appId, "after-change");
    expect([fromLease.version, after.version]).toEqual([GRAY, GRAY]);
    await finish(clock, [...warm, fromLease, after]);
    // The old lease reported its one user and closed; the direct admission after the change may
    // have taken a new lease under the new cap, unused and closed since.
    const leases = await leasesOf(task.id);
    expect(leases.filter((l) => l.settled === 1)).toHaveLength(1);
    expect(summary(leases)).toMatchObject({ settled: 1, open: 0 });
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: DEMAND + 2, reserved: 0 });
  });

  it("takes no lease when the counter is off (ADMISSION_LEASE_SIZE 0): every first admission is a counter call", async () => {
    const { appId, task } = await appWithCap(1_000);
    const answers = [];
    for (let i = 0; i < 8; i++) {
      const ctx = createExecutionContext();
      const res = await edge.fetch(
        new Request(`${ORIGIN}/v1/check?${checkQuery(client(appId, { guid: `off-${i}` }))}`),
        { ...leaseEnv, ADMISSION_LEASE_SIZE: "0" },
        ctx,
      );
      expect(res.status).toBe(200);
      await waitOnExecutionContext(ctx);
      answers.push(i);
    }
    expect(await leasesOf(task.id)).toEqual([]);
    expect((await counterOf(task.id).progress()).admitted).toBe(answers.length);
  });
});

describe("admission lease reports when the counter's answers get lost", () => {
  /**
   * The real counter behind a link that loses answers: the call reaches the object (and is
   * applied), then the caller sees an error. `lose(n)` loses the answers of the next n settle calls.
   */
  function lossyIo(taskId: string, clock: ManualClock, waits: Promise<unknown>[]) {
    let lost = 0;
    let lostLeases = 0;
    /** every settle call that reached the object: batch number and users */
    const settles: { batch: number; users: string[] }[] = [];
    const io: LeaseIo = {
      size: 8,
      ttlMs: 5_000,
      clock,
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
            settles.push({ batch, users: admissions.map((a) => a.userKey) });
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
    return { io, settles, lose: (n: number) => (lost = n), loseLeases: (n: number) => (lostLeases = n) };
  }

  const META = { hostAppId: "ha_lossy", platform: "ios" as const };

  it("resends a batch unchanged until the object has it: no user dropped, none counted twice, the cap kept", async () => {
    const taskId = `gt_lossy_${crypto.randomUUID().slice(0, 8)}`;
    const cap = 40;
    const clock = new ManualClock();
    const waits: Promise<unknown>[] = [];
    const { io, settles, lose } = lossyIo(taskId, clock, waits);
    // Demand: four direct admissions noted at one instant (the test plays the edge: admit, then
    // note it) ask for a lease in the background.
    for (let i = 0; i < DEMAND; i++) {
      expect(await counterOf(taskId).admit(`d${i}`, cap, META)).toMatchObject({ admitted: true });
      noteDirectAdmission(taskId, cap, clock.now(), io);
    }
    // The acquisition holds the lease once it sleeps until the lease's end (its timer, kept aside).
    expect(waits).toHaveLength(1);
    const acquisition = waits.splice(0);
    await Promise.race([clock.sleeping(), ...acquisition]);
    expect(holdsLeaseForTests(taskId)).toBe(true);
    // Every answer of the first report is lost (all its attempts): u1's batch waits for a retry.
    lose(3);
    expect(admitFromLease(taskId, cap, "u1", META, clock.now(), io)).toBe(true);
    expect(waits).toHaveLength(1);
    // The report delay passes (not the lease's end); each attempt's answer is lost, the pauses between attempts pass too.
    await clock.runUntilSettled(Promise.all(waits.splice(0)), clock.now() + 1_000);
    // Applied by the object although the isolate never heard so.
    expect(await counterOf(taskId).isAdmitted("u1")).toBe(true);
    // After the back-off, u2 and u3 arrive: the unanswered batch is resent first, unchanged.
    clock.advance(1_500);
    expect(admitFromLease(taskId, cap, "u2", META, clock.now(), io)).toBe(true);
    expect(admitFromLease(taskId, cap, "u3", META, clock.now(), io)).toBe(true);
    await clock.runUntilSettled(Promise.all(waits.splice(0)), clock.now() + 1_000);
    // The lease ends (the acquisition's timer), reporting the rest with `done`.
    await clock.runUntilSettled(Promise.all(acquisition));
    await clock.runUntilSettled(Promise.all(waits.splice(0)));
    expect(waits).toHaveLength(0);
    const progress = await counterOf(taskId).progress();
    expect(progress).toMatchObject({ admitted: 7, reserved: 0 });
    for (const user of ["u1", "u2", "u3"]) expect(await counterOf(taskId).isAdmitted(user)).toBe(true);
    // Batch 0 went out three times unanswered, then once more, unchanged, before any later batch.
    expect(settles.slice(0, 4)).toEqual(Array(4).fill({ batch: 0, users: ["u1"] }));
    expect(settles.slice(4).every((s) => s.batch > 0)).toBe(true);
    const leases = await leasesOf(taskId);
    expect(summary(leases)).toMatchObject({ settled: 3, open: 0 });
  });

  it("gives back a lease whose grant never reached the isolate", async () => {
    const taskId = `gt_lostlease_${crypto.randomUUID().slice(0, 8)}`;
    const cap = 400;
    const clock = new ManualClock();
    const waits: Promise<unknown>[] = [];
    const { io, loseLeases } = lossyIo(taskId, clock, waits);
    loseLeases(3); // every attempt of the one `lease` call: the object grants it, the isolate never hears
    for (let i = 0; i < DEMAND; i++) {
      expect(await counterOf(taskId).admit(`d${i}`, cap, META)).toMatchObject({ admitted: true });
      noteDirectAdmission(taskId, cap, clock.now(), io);
    }
    // The acquisition fails (the pauses between attempts pass on the clock), then the end of the
    // lease it may have made is reported under the id it chose.
    while (waits.length > 0) await clock.runUntilSettled(Promise.allSettled(waits.splice(0)));
    expect(holdsLeaseForTests(taskId)).toBe(false);
    // The isolate ended it under the id it had chosen: nothing stays reserved.
    expect(summary(await leasesOf(taskId))).toEqual({ settled: 0, open: 0, sizes: [8] });
    expect(await counterOf(taskId).progress()).toMatchObject({ admitted: 4, reserved: 0, stranded: 0 });
  });
});
