// The benchmark's world: delivery snapshots, grayscale tasks, a 1,000,000-entry whitelist and a
// package, built with the core's own functions (compileSnapshot, compileTask, buildWhitelistV2)
// from the bundled core, so the bytes are what the control plane would write to R2.
import { createHash, randomBytes } from "node:crypto";

export const HOST_APP = "ha_bench_superapp";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** App ids (AppIdSchema: "gc" + 16..40 of [a-z2-7]), one per scenario. */
export const APPS = {
  online: "gcbenchonlinexaaaaaa",
  tasks: "gcbenchtasksxaaaaaaa",
  admit: "gcbenchadmitxaaaaaaa",
  cap: "gcbenchcapxaaaaaaaaa",
};

/** The check body of a typical iOS client (valid against CheckRequestSchema). */
export function clientBody(appId, extra = {}) {
  return {
    appId,
    hostAppId: HOST_APP,
    hostAppVersion: "8.0.50",
    platform: "ios",
    osVersion: "17.4",
    network: "4g",
    brand: "Apple",
    model: "iPhone15,2",
    installedVersion: "1.9.0",
    baseLibraryVersion: "3.4.0",
    ...extra,
  };
}

/** Deterministic GUID-like values (32 hex chars) from a xorshift generator. */
export function guids(count, seed) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s.toString(16).padStart(8, "0");
  };
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = next() + next() + next() + next();
  return out;
}

const fakeSha = (label) => createHash("sha256").update(label).digest("hex");

function definition(over) {
  const now = Date.now();
  return {
    name: "bench",
    version: "2.1.0",
    startAt: now - HOUR,
    endAt: now + 30 * DAY,
    userCap: null,
    percentageBp: null,
    hostApps: { [HOST_APP]: {} },
    platforms: { android: {}, ios: {} },
    targets: {},
    ...over,
  };
}

/**
 * Builds everything to seed. `core` is the bundled core (bench/lib/bundle.mjs bundleCore).
 * Returns { objects: [{ key, body }], apps, members, nonMembers, packageSha, packageBytes, tasks }
 * or throws when the core cannot build it yet (the caller reports "not available").
 */
/**
 * @param core the bundled core (bench/lib/bundle.mjs bundleCore: a module loaded at run time)
 * @param {{ whitelistSize?: number, admitCap?: number, exactCap?: number, log?: (line: string) => void }} [options]
 */
export function buildWorld(
  core,
  { whitelistSize = 1_000_000, admitCap = 10_000_000, exactCap = 1_000, log = () => {} } = {},
) {
  const now = Date.now();
  const objects = [];

  // One real package, served by the Range scenario: 1 MiB of random bytes under its sha256.
  const packageBytes = randomBytes(1024 * 1024);
  const packageSha = createHash("sha256").update(packageBytes).digest("hex");
  objects.push({ key: core.snapshot.packageKey(packageSha), body: packageBytes });
  const online = {
    version: "2.0.0",
    package: { sha256: packageSha, size: packageBytes.length },
    releasedAt: now - DAY,
    via: "publish",
  };
  const pkg = (v) => ({ sha256: fakeSha(`bench-${v}`), size: 200_000 });

  const snapshotOf = (appId, tasks) =>
    core.snapshot.compileSnapshot(
      { appId, revision: 1, listed: true, hostApps: [HOST_APP], online, trial: null, tasks },
      now,
    );
  const compile = (id, def, whitelists = []) => {
    const task = core.lifecycle.compileTask(
      {
        id,
        definition: def,
        status: { state: "delivering", endReason: null },
        package: pkg(def.version),
        whitelists,
      },
      now,
    );
    if (!task) throw new Error(`compileTask gave null for ${id}`);
    return task;
  };

  // Online path: no tasks.
  const snapshots = { online: snapshotOf(APPS.online, []) };

  // Several delivering tasks, highest version first; the client fails four on one condition each
  // and the fifth names it (or not) in a 1,000,000-entry GUID whitelist.
  log(`building a ${whitelistSize.toLocaleString("en-US")}-entry whitelist`);
  const values = guids(whitelistSize, 0x5eed);
  // in storage format 2, as uploads write it (core buildWhitelistV2 gives the upload's bytes)
  const built = core.whitelistBuild.buildWhitelistV2({ id: "wl_bench_1m", kind: "guid", seed: 42, values });
  objects.push({ key: core.snapshot.whitelistBloomKey(built.ref.id), body: Buffer.from(built.bloom) });
  for (const [i, shard] of built.shards.entries())
    objects.push({ key: core.snapshot.whitelistShardKey(built.ref.id, i), body: Buffer.from(shard) });
  const taskSet = [
    compile(
      "t_bench_appver",
      definition({ name: "app version", version: "2.5.0", hostApps: { [HOST_APP]: { min: "9.0" } } }),
    ),
    compile(
      "t_bench_android",
      definition({ name: "android only", version: "2.4.0", platforms: { android: {} } }),
    ),
    compile("t_bench_wifi", definition({ name: "wifi only", version: "2.3.0", networks: ["wifi"] })),
    compile(
      "t_bench_brand",
      definition({ name: "huawei only", version: "2.2.0", brands: { include: ["huawei"] } }),
    ),
    compile("t_bench_list", definition({ name: "whitelist 1M", version: "2.1.0" }), [built.ref]),
  ];
  snapshots.tasks = snapshotOf(APPS.tasks, taskSet);

  // Capped tasks: one with a cap far above what a run admits (measures first admissions), one
  // with a small cap that a burst of new users must fill exactly.
  snapshots.admit = snapshotOf(APPS.admit, [
    compile("t_bench_admit", definition({ name: "capped big", userCap: admitCap })),
  ]);
  snapshots.cap = snapshotOf(APPS.cap, [
    compile("t_bench_cap", definition({ name: "capped exact", userCap: exactCap })),
  ]);

  for (const s of Object.values(snapshots))
    objects.push({ key: core.snapshot.snapshotKey(s.appId), body: JSON.stringify(s) });

  return {
    objects,
    snapshots,
    whitelist: built.ref,
    members: values,
    nonMembers: guids(10_000, 0xbadc0de),
    packageSha,
    packageBytes,
    tasks: { list: "t_bench_list", admit: "t_bench_admit", cap: "t_bench_cap" },
    exactCap,
  };
}

/** Writes the objects through Miniflare's R2 binding, a few at a time. */
export async function seedR2(bucket, objects, concurrency = 8) {
  let i = 0;
  const worker = async () => {
    while (i < objects.length) {
      const o = objects[i++];
      await bucket.put(o.key, o.body);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
