/**
 * The runtime config's side of the snapshot (PRODUCT.md D5, issue 12: "compiled into the snapshot
 * and reaches clients signed"). Every change to what it holds adds `bumpConfigRevision` to its own
 * D1 batch (the snapshot revision and the config revision grow together, so the edge and clients
 * can refuse an older config), then publishes the snapshot like every other change
 * (services/snapshot.ts `publishCurrentSnapshot`; the cron sweep catches a failed publish).
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import {
  compileConfig,
  type DomainKind,
  type SnapshotConfig,
  type SwitchEntry,
  type SwitchValue,
} from "../../../core/runtime-config";
import type { Db } from "../db/client";
import {
  miniProgramDomains,
  miniPrograms,
  privacyAgreements,
  sensitiveApiApplications,
  skipDomainApplications,
  switches,
} from "../db/schema";

/** The statement that marks a runtime-config change: add it to the change's own D1 batch. */
export function bumpConfigRevision(db: Db, appId: string) {
  return db
    .update(miniPrograms)
    .set({
      snapshotRevision: sql`${miniPrograms.snapshotRevision} + 1`,
      configRevision: sql`${miniPrograms.configRevision} + 1`,
    })
    .where(eq(miniPrograms.id, appId));
}

/**
 * The same, but only when the statement just before it in the batch changed a row (a guarded
 * decision two requests may race for: the loser must not bump anything).
 */
export function bumpConfigRevisionIfChanged(db: Db, appId: string) {
  return db
    .update(miniPrograms)
    .set({
      snapshotRevision: sql`${miniPrograms.snapshotRevision} + 1`,
      configRevision: sql`${miniPrograms.configRevision} + 1`,
    })
    .where(and(eq(miniPrograms.id, appId), sql`changes() = 1`));
}

/** What the runtime config of `appId` compiles to from D1 (for the snapshot and the preview). */
export async function compiledConfigOf(
  db: Db,
  mp: { id: string; configRevision: number; trialPagePath: string | null },
  hostApps: readonly string[],
  liveTaskIds: readonly string[],
): Promise<SnapshotConfig> {
  const [domains, skips, grants, privacy, rows] = await db.batch(configQueries(db, mp.id));
  return compileConfigFrom(mp, { domains, skips, grants, privacy, switches: rows }, hostApps, liveTaskIds);
}

/** The queries the runtime config compiles from, for the caller's own D1 batch (in this order). */
export function configQueries(db: Db, appId: string) {
  return [
    db
      .select({
        kind: miniProgramDomains.kind,
        domain: miniProgramDomains.domain,
        verifiedAt: miniProgramDomains.verifiedAt,
      })
      .from(miniProgramDomains)
      .where(eq(miniProgramDomains.miniProgramId, appId)),
    db
      .select({ hostAppId: skipDomainApplications.hostAppId })
      .from(skipDomainApplications)
      .where(
        and(eq(skipDomainApplications.miniProgramId, appId), eq(skipDomainApplications.status, "approved")),
      ),
    db
      .select({ hostAppId: sensitiveApiApplications.hostAppId, name: sensitiveApiApplications.apiName })
      .from(sensitiveApiApplications)
      .where(
        and(
          eq(sensitiveApiApplications.miniProgramId, appId),
          eq(sensitiveApiApplications.status, "approved"),
        ),
      ),
    db
      .select({ version: privacyAgreements.version, sha256: privacyAgreements.sha256 })
      .from(privacyAgreements)
      .where(eq(privacyAgreements.miniProgramId, appId))
      .orderBy(sql`${privacyAgreements.version} desc`)
      .limit(1),
    db.select().from(switches).where(eq(switches.miniProgramId, appId)),
  ] as const;
}

type ConfigQueries = ReturnType<typeof configQueries>;
type ConfigRows = { [K in keyof ConfigQueries]: Awaited<ConfigQueries[K]> };

/** Compiles the runtime config from the rows of `configQueries`. */
export function compileConfigFrom(
  mp: { configRevision: number; trialPagePath: string | null },
  rows: {
    domains: ConfigRows[0];
    skips: ConfigRows[1];
    grants: ConfigRows[2];
    privacy: ConfigRows[3];
    switches: ConfigRows[4];
  },
  hostApps: readonly string[],
  liveTaskIds: readonly string[],
): SnapshotConfig {
  return compileConfig({
    revision: mp.configRevision,
    domains: rows.domains.map((d) => ({
      kind: d.kind as DomainKind,
      domain: d.domain,
      verified: d.verifiedAt !== null,
    })),
    skipDomainCheck: rows.skips.map((s) => s.hostAppId),
    apis: rows.grants,
    privacy: rows.privacy[0] ?? null,
    trialPagePath: mp.trialPagePath,
    switches: rows.switches.map(
      (r): SwitchEntry => ({
        key: r.key,
        type: r.type,
        value: JSON.parse(r.value) as SwitchValue,
        ...(r.hostAppId !== "" ? { hostAppId: r.hostAppId } : {}),
        ...(r.taskId !== "" ? { taskId: r.taskId } : {}),
      }),
    ),
    liveTaskIds,
    hostApps,
  });
}

/** The current config revision of each of `appIds` (for answers that show what a change did). */
export async function configRevisionOf(db: Db, appId: string): Promise<number> {
  const row = await db
    .select({ r: miniPrograms.configRevision })
    .from(miniPrograms)
    .where(inArray(miniPrograms.id, [appId]))
    .get();
  return row?.r ?? 0;
}
