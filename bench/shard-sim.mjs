#!/usr/bin/env node
// Simulations behind docs/scale.md (deterministic: fixed seeds, no I/O).
//
//   node bench/shard-sim.mjs [--json] [--service-ms 1] [--rate 10000] [--cap 1000000]
//
// 1. Snapshot revalidation: how many R2 reads the edge's per-isolate snapshot cache makes per
//    second for a given check rate, number of isolates and mini program popularity (Zipf), when
//    each isolate revalidates a mini program at most once per SNAPSHOT_TTL_MS.
// 2. Capped-task admission: one GrayscaleCounter per task versus the task's cap split into
//    leased shards. Each counter object is a single FIFO server (one admission takes
//    `service-ms`, the Durable Object's serial step); a request the object could not start within
//    the edge's counter timeout (COUNTER_TIMEOUT_MS, 1 s) is shed: the client gets the online
//    version (never an error) and may be admitted on a later check. With K shards, a user is
//    routed to shard hash(userKey) mod K (so "already admitted stays admitted" holds per shard);
//    a shard admits from slots leased from the task's coordinator object and asks for the next
//    lease when it falls to a low watermark, off the request path; the coordinator grants
//    min(L, ceil(remaining / 2K)) slots so the last slots are not stranded in idle shards.
//    The invariant checked on every run: admitted <= cap, and admitted == cap once demand exceeds it.

const args = process.argv.slice(2);
const value = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const JSON_OUT = args.includes("--json");

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
const exp = (rand, mean) => -Math.log(1 - rand()) * mean;

// ---------------------------------------------------------------- 1. R2 revalidation
export function simulateRevalidation({
  rate,
  isolates,
  apps,
  zipf = 1.1,
  ttlMs = 2000,
  seconds = 20,
  seed = 7,
  pops = 300,
}) {
  const rand = rng(seed);
  const cdf = new Float64Array(apps);
  let sum = 0;
  for (let i = 0; i < apps; i++) cdf[i] = sum += 1 / (i + 1) ** zipf;
  for (let i = 0; i < apps; i++) cdf[i] = (cdf[i] ?? 0) / sum;
  const pickApp = () => {
    const u = rand();
    let lo = 0;
    let hi = apps - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] ?? 1) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Per isolate (what the edge does now) and per location (a cache shared by a location's
  // isolates, e.g. the Cache API), isolates spread evenly over `pops` locations.
  const last = new Map();
  const lastPop = new Map();
  let reads = 0;
  let popReads = 0;
  let t = 0;
  const end = seconds * 1000;
  let requests = 0;
  while (t < end) {
    t += exp(rand, 1000 / rate);
    requests++;
    const isolate = Math.floor(rand() * isolates);
    const app = pickApp();
    const key = isolate * apps + app;
    const seen = last.get(key);
    if (seen === undefined || t - seen >= ttlMs) {
      reads++;
      last.set(key, t);
    }
    const popKey = (isolate % pops) * apps + app;
    const seenPop = lastPop.get(popKey);
    if (seenPop === undefined || t - seenPop >= ttlMs) {
      popReads++;
      lastPop.set(popKey, t);
    }
  }
  // A single revision index (every mini program's current revision in one small object): each
  // isolate revalidates it once per TTL whatever the number of mini programs; snapshots are then
  // read only when their revision moved (publishes; not simulated here).
  const indexReadsPerSec = Math.min(rate, (isolates * 1000) / ttlMs);
  return {
    rate,
    isolates,
    apps,
    pops,
    ttlMs,
    requests,
    readsPerSec: reads / seconds,
    readsPerCheck: reads / requests,
    popReadsPerSec: popReads / seconds,
    indexReadsPerSec,
  };
}

// ---------------------------------------------------------------- 2. admission
export function simulateAdmission({
  rate,
  cap,
  shards,
  serviceMs = 1,
  timeoutMs = 1000,
  lease = 1000,
  leaseRttMs = 30,
  coordServiceMs = 1,
  seconds = 120,
  seed = 11,
}) {
  const rand = rng(seed);
  const sharded = shards > 1;
  const S = Array.from({ length: shards }, () => ({
    freeAt: 0,
    slots: sharded ? 0 : Infinity,
    pending: false,
    refillAt: 0,
    refill: 0,
    exhausted: false,
  }));
  let remaining = cap; // coordinator's unleased slots (the single-object case admits against `cap` directly)
  let admitted = 0;
  let coordCalls = 0;
  let coordFreeAt = 0;
  let shed = 0;
  let refused = 0;
  let requests = 0;
  let filledAt;
  const latencies = [];
  const grant = () => Math.max(1, Math.min(lease, Math.ceil(remaining / (2 * shards))));

  // Leases arrive asynchronously: a shard asks at its low watermark, the coordinator serves
  // requests one at a time, and the answer lands after a round trip.
  const askLease = (s, now) => {
    if (s.pending || s.exhausted) return;
    s.pending = true;
    coordCalls++;
    const start = Math.max(now + leaseRttMs / 2, coordFreeAt);
    coordFreeAt = start + coordServiceMs;
    const n = Math.min(grant(), remaining);
    remaining -= n;
    s.refillAt = coordFreeAt + leaseRttMs / 2;
    s.refill = n;
  };
  const applyLease = (s, now) => {
    if (s.pending && s.refillAt <= now) {
      s.pending = false;
      if (s.refill === 0) s.exhausted = true;
      s.slots += s.refill;
      s.refill = 0;
    }
  };

  let t = 0;
  const end = seconds * 1000;
  while (t < end) {
    t += exp(rand, 1000 / rate);
    requests++;
    const s = S[Math.floor(rand() * shards)];
    if (!s) throw new Error("no such shard");
    if (sharded) {
      applyLease(s, t);
      // A shard with nothing leased asks before it can answer (its first user, or after a dry spell).
      if (s.slots === 0 && !s.pending && remaining > 0) askLease(s, t);
    }
    let start = Math.max(t, s.freeAt);
    // A shard with no slots but a lease on its way holds the request until the lease lands.
    if (sharded && s.slots === 0 && s.pending) start = Math.max(start, s.refillAt);
    if (start - t > timeoutMs) {
      shed++; // the edge's counter call timed out: online version, not admitted now
      continue;
    }
    if (sharded) applyLease(s, start);
    s.freeAt = start + serviceMs;
    latencies.push(s.freeAt - t);
    const can = sharded ? s.slots > 0 : admitted < cap;
    if (can) {
      admitted++;
      if (sharded) s.slots--;
      if (admitted === cap && filledAt === undefined) filledAt = s.freeAt;
    } else refused++;
    if (sharded && s.slots <= Math.max(1, Math.floor(lease / 4)) && remaining > 0) askLease(s, s.freeAt);
    if (sharded && remaining === 0 && s.slots === 0 && !s.pending) s.exhausted = true;
    if (admitted > cap) throw new Error(`over the cap: ${admitted} > ${cap}`);
  }
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  const window = (filledAt ?? end) / 1000;
  return {
    shards,
    rate,
    cap,
    serviceMs,
    requests,
    admitted,
    overCap: Math.max(0, admitted - cap),
    admissionsPerSec: admitted / window,
    secondsToFillCap: filledAt === undefined ? null : filledAt / 1000,
    shedPct: (shed / requests) * 100,
    refusedAfterCap: refused,
    p50Ms: q(50),
    p99Ms: q(99),
    coordCallsPerSec: coordCalls / window,
    strandedSlots: sharded ? S.reduce((n, s) => n + s.slots, 0) + remaining : 0,
  };
}

// ---------------------------------------------------------------- 3. edge admission leases
// Object calls per second that one capped task costs when edge isolates admit from leases
// (edge-worker/src/admission-leases.ts), as a function of how thinly the task's first admissions
// are spread over isolates. Each isolate sees Poisson arrivals at rate/isolates. It follows the
// edge's rules: direct `admit` calls until DEMAND of them fall in one second, then a lease of
// `size` slots (doubling, up to MAX_LEASE, when one runs out in under half its life; the next one
// taken when the current is half used; a lease lasts `ttlMs`); admissions from a lease are
// reported by one `settle` call `flushMs` after the first of a batch, the lease's end by one more.
// Cap never reached. Counts: admit calls, lease calls, settle calls; calls per admission.
export function simulateEdgeLeases({
  rate,
  isolates,
  size = 128,
  flushMs = 250,
  ttlMs = 10_000,
  demand = 4,
  maxLease = 1024,
  leaseRttMs = 5,
  seconds = 60,
  seed = 5,
}) {
  const rand = rng(seed);
  const perIsolate = rate / isolates;
  let admitCalls = 0;
  let leaseCalls = 0;
  let settleCalls = 0;
  let admissions = 0;
  let fromLeases = 0;
  // Simulating every isolate of a thin spread is wasteful: they are alike, so simulate `sample`
  // of them and scale the counts.
  const sample = Math.min(isolates, 200);
  for (let k = 0; k < sample; k++) {
    let t = exp(rand, 1000 / perIsolate);
    let second = -1;
    let directThisSecond = 0;
    let want = size;
    /** @typedef {{ left: number, granted: number, startedAt: number, endsAt: number, endedAt: number }} Lease */
    /** @type {Lease | null} */
    let current = null;
    /** @type {Lease | null} */
    let next = null;
    let acquiringUntil = -1;
    let batchOpenUntil = -1; // a batch is waiting for its settle until then
    const endLease = (lease) => {
      // its last batch and `done` go in one settle (or one more when nothing was pending)
      settleCalls++;
      if (lease.left === 0 && lease.endedAt - lease.startedAt < ttlMs / 2)
        want = Math.min(want * 2, maxLease);
      else if (lease.left > lease.granted / 2) want = size;
    };
    while (t < seconds * 1000) {
      admissions++;
      if (acquiringUntil >= 0 && t >= acquiringUntil) {
        const lease = {
          left: want,
          granted: want,
          startedAt: acquiringUntil,
          endsAt: acquiringUntil + ttlMs,
          endedAt: 0,
        };
        if (current === null) current = lease;
        else next = lease;
        acquiringUntil = -1;
      }
      for (const l of [current, next])
        if (l !== null && t >= l.endsAt && l.endedAt === 0) (l.endedAt = l.endsAt), endLease(l);
      if (current !== null && current.endedAt !== 0) current = null;
      if (next !== null && next.endedAt !== 0) next = null;
      if (current === null && next !== null) (current = next), (next = null);
      if (current !== null) {
        fromLeases++;
        current.left--;
        if (t >= batchOpenUntil) {
          settleCalls++;
          batchOpenUntil = t + flushMs;
        }
        if (current.left <= current.granted / 2 && next === null && acquiringUntil < 0) {
          leaseCalls++;
          acquiringUntil = t + leaseRttMs;
        }
        if (current.left === 0) {
          current.endedAt = t;
          endLease(current);
          current = null;
        }
      } else {
        admitCalls++;
        const s = Math.floor(t / 1000);
        if (s !== second) (second = s), (directThisSecond = 0);
        if (++directThisSecond >= demand && acquiringUntil < 0 && next === null) {
          leaseCalls++;
          acquiringUntil = t + leaseRttMs;
        }
      }
      t += exp(rand, 1000 / perIsolate);
    }
  }
  const scale = isolates / sample / seconds;
  const calls = (admitCalls + leaseCalls + settleCalls) * scale;
  return {
    rate,
    isolates,
    perIsolate,
    flushMs,
    admissionsPerSec: admissions * scale,
    fromLeasesPct: (fromLeases / admissions) * 100,
    admitCallsPerSec: admitCalls * scale,
    leaseCallsPerSec: leaseCalls * scale,
    settleCallsPerSec: settleCalls * scale,
    objectCallsPerSec: calls,
    callsPerAdmission: calls / (admissions * scale),
  };
}

// ---------------------------------------------------------------- defaults (docs/scale.md)
const serviceMs = value("--service-ms", 1);
const rate = value("--rate", 10_000);
const cap = value("--cap", 1_000_000);

const revalidation = [
  [1_000, 1_000],
  [1_000, 10_000],
  [5_000, 10_000],
  [20_000, 10_000],
].map(([isolates, apps]) => simulateRevalidation({ rate: 50_000, isolates, apps }));
const ttl8 = simulateRevalidation({ rate: 50_000, isolates: 5_000, apps: 10_000, ttlMs: 8000 });
const admission = [1, 2, 4, 8, 16, 32].map((shards) => simulateAdmission({ rate, cap, shards, serviceMs }));
// Exactness at small caps: the last slots must not be stranded in shards that see no more users.
const exactness = [10, 100, 1_000, 10_000].map((smallCap) =>
  simulateAdmission({ rate: 2_000, cap: smallCap, shards: 32, serviceMs, seconds: 20 }),
);
const overload = simulateAdmission({ rate: 50_000, cap: 5_000_000, shards: 64, serviceMs, seconds: 60 });

const edgeLeases = [10, 100, 1_000, 10_000].flatMap((isolates) =>
  [20, 250].map((flushMs) => simulateEdgeLeases({ rate, isolates, flushMs })),
);
if (JSON_OUT) {
  process.stdout.write(
    `${JSON.stringify({ revalidation, ttl8, admission, exactness, overload, edgeLeases })}\n`,
  );
} else {
  const n = (x, d = 0) =>
    x === null || x === undefined || Number.isNaN(x)
      ? "-"
      : x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  console.log(
    "1. Snapshot revalidation (50,000 checks/s, mini programs by Zipf 1.1 popularity, TTL 2 s, 20 s simulated)",
  );
  console.log(
    "| isolates | mini programs | R2 revalidations/s, cache per isolate (now) | per check | cache per location (300 locations) | one revision index per isolate |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of revalidation)
    console.log(
      `| ${n(r.isolates)} | ${n(r.apps)} | ${n(r.readsPerSec)} | ${n(r.readsPerCheck, 2)} | ${n(r.popReadsPerSec)} | ${n(r.indexReadsPerSec)} |`,
    );
  console.log(
    `With TTL 8 s (5,000 isolates, 10,000 mini programs): ${n(ttl8.readsPerSec)} revalidations/s per isolate cache (${n(ttl8.readsPerCheck, 2)} per check), ${n(ttl8.indexReadsPerSec)} with one revision index.`,
  );
  console.log("");
  console.log(
    `2. One capped task: ${n(rate)} new eligible users/s, cap ${n(cap)}, ${serviceMs} ms per admission per object, edge timeout 1 s, 120 s simulated`,
  );
  console.log(
    "| counter objects | admitted in 120 s | over cap | admissions/s | s to fill cap (~ = extrapolated) | shed (online now, retried later) | p50 ms | p99 ms | lease calls/s |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const a of admission) {
    const fill = a.secondsToFillCap ?? cap / a.admissionsPerSec;
    console.log(
      `| ${a.shards === 1 ? "1 (no shards)" : `${a.shards} shards`} | ${n(a.admitted)} | ${a.overCap} | ${n(a.admissionsPerSec)} | ${a.secondsToFillCap === null ? "~" : ""}${n(fill, 0)} | ${n(a.shedPct, 1)}% | ${n(a.p50Ms, 1)} | ${n(a.p99Ms, 1)} | ${n(a.coordCallsPerSec, 1)} |`,
    );
  }
  console.log("");
  console.log("Exactness at small caps (2,000 new users/s, 32 shards, 20 s):");
  console.log("| cap | admitted | over cap | s to fill | slots left stranded in shards | lease calls |");
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const e of exactness)
    console.log(
      `| ${n(e.cap)} | ${n(e.admitted)} | ${e.overCap} | ${n(e.secondsToFillCap, 2)} | ${n(e.strandedSlots)} | ${n(e.coordCallsPerSec * (e.secondsToFillCap ?? 20), 0)} |`,
    );
  console.log("");
  const o = overload;
  console.log(
    `3. Whole peak as first admissions (50,000/s) into one task capped at 5,000,000 with 64 shards: admitted ${n(o.admitted)} (over cap ${o.overCap}), ${n(o.admissionsPerSec)} admissions/s, shed ${n(o.shedPct, 1)}%, p99 ${n(o.p99Ms, 1)} ms, ${n(o.coordCallsPerSec, 1)} lease calls/s`,
  );
  console.log("");
  console.log(
    `4. Edge admission leases: object calls for ${n(rate)} first admissions/s into one task, spread over N isolates (lease 128 slots growing to 1,024, life 10 s, 60 s simulated)`,
  );
  console.log(
    "| isolates | admissions/s per isolate | batch delay ms | from leases | admit calls/s | lease calls/s | settle calls/s | object calls/s | calls per admission |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const e of edgeLeases)
    console.log(
      `| ${n(e.isolates)} | ${n(e.perIsolate, 1)} | ${e.flushMs} | ${n(e.fromLeasesPct, 1)}% | ${n(e.admitCallsPerSec)} | ${n(e.leaseCallsPerSec, 1)} | ${n(e.settleCallsPerSec)} | ${n(e.objectCallsPerSec)} | ${n(e.callsPerAdmission, 3)} |`,
    );
}
