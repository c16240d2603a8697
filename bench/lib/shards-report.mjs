// The cap shards section of BENCHMARKS.md (bench/shards.mjs measures; `npm run bench` runs it and
// writes this section; docs/scale.md 5b explains the design).

/** @param {number} v @param {number} [d] */
const n = (v, d = 0) =>
  Number.isFinite(v)
    ? v.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
    : "n/a";

/** The seed's peak of first admissions into one task, and Cloudflare's documented soft limit per object. */
const GOAL_PER_S = 50_000;
const OBJECT_SOFT_LIMIT_PER_S = 1_000;
const MAX_SHARDS = 64;

/** The measured rows as a Markdown table. */
export function shardsTable(rows) {
  return [
    "| run | K | isolates | users | cap | admitted | over cap | left in shards | admissions/s | object calls per admission | coordinator asks | asks/s | busiest object admissions/s | p50 ms | p99 ms |",
    "| --- | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: |",
    ...rows.map(
      (r) =>
        `| ${r.kind} | ${r.shards} | ${n(r.isolates)} | ${n(r.users)} | ${n(r.cap)} | ${n(r.admitted)} | ${r.overCap} | ${r.kind === "throughput" && r.shards > 1 ? "(cap not hit)" : n(r.leftInShards)} | ${n(r.admissionsPerS)} | ${n(r.callsPerAdmission, 3)} | ${n(r.coordinatorAsks)} | ${n(r.coordinatorAsksPerS, 1)} | ${n(r.busiestObjectAdmissionsPerS)} | ${n(r.p50Ms, 1)} | ${n(r.p99Ms, 1)} |`,
    ),
  ];
}

/** The section: the table, what it shows, and 50,000 first admissions a second on paper from it. */
export function shardsSection(rows) {
  const exact = rows.filter((r) => r.kind === "exactness");
  const far = rows.filter((r) => r.kind === "throughput" && r.shards > 1);
  const single = rows.filter((r) => r.kind === "throughput" && r.shards === 1);
  const oneObject = Math.max(...single.map((r) => r.admissionsPerS));
  const asksPerAdmission =
    far.reduce((s, r) => s + r.coordinatorAsks, 0) /
    Math.max(
      1,
      far.reduce((s, r) => s + r.admitted, 0),
    );
  const perShard = GOAL_PER_S / MAX_SHARDS;
  const allExact = exact.every(
    (r) => r.overCap === 0 && r.leftInShards === 0 && r.admitted === Math.min(r.cap, r.users),
  );
  const small = exact.find((r) => r.cap < 100 && r.shards > 1);
  return [
    "## Cap shards with the real objects (`node bench/shards.mjs`)",
    "",
    "One workerd under Miniflare runs a bench Worker exporting the real `GrayscaleCounter` (durable-objects/, SQLite objects) and a driver; each simulated edge isolate is one request admitting its new users one after another through their shard (core `capShardOf`), as an isolate without an admission lease does (the thinly spread case, where leases do not help); Node fires all isolates at once. Throughput runs: a cap never reached, objects warmed first. Exactness runs: 64 isolates x 50 new users, cold objects, a cap under the demand. Calls per admission = (shard calls + coordinator asks) / admitted (refused users' calls included in the exactness rows); left in shards = slots granted that no shard admitted from at the end. Design: docs/scale.md 5b.",
    "",
    ...shardsTable(rows),
    "",
    `- **Exact at every K:** ${allExact ? "every exactness run admitted exactly its cap, 0 over, nothing left in any shard" : "**not** every exactness run filled its cap exactly with nothing left (see the table)"}${small ? `; at cap ${small.cap} over ${small.shards} shards the coordinator answered ${n(small.coordinatorAsks)} asks for ${n(small.users)} users (a shard told "nothing left" refuses for 1 s without asking again)` : ""}. The script stops on any user over the cap or any disagreement between answers and objects.`,
    `- **Object calls per first admission, cap far:** ${n(Math.max(...far.map((r) => r.callsPerAdmission)), 3)} at most (one shard call; the coordinator ${n(asksPerAdmission * 1000, 2)} asks per 1,000 admissions).`,
    `- **50,000 first admissions a second into one task, on paper:** one object alone sustained ${n(oneObject)} first admissions a second here (K = 1, the driver on the same host); deployed, each shard is its own single-threaded object, so at K = ${MAX_SHARDS} each takes ${n(perShard)}/s (${n((perShard / OBJECT_SOFT_LIMIT_PER_S) * 100)}% of Cloudflare's documented ~${n(OBJECT_SOFT_LIMIT_PER_S)} requests a second per object${oneObject >= perShard ? ", and below the rate one object reached here" : ""}) and the coordinator ${n(GOAL_PER_S * asksPerAdmission, 0)} asks a second. Locally all objects share one workerd on 2 cores, so K adds per-object overhead and no cores; the deployed per-object rate and cross-location ask latency are not measured here.`,
    "",
  ];
}
