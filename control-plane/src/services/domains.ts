/**
 * Server domains (PRODUCT.md X1; seed "Development Management", "Domain name settings": "Mini
 * programs need to set up communication domain names in advance, and mini programs can only
 * communicate with the specified domain name"). Rules as the WeChat and Tencent consoles enforce
 * them (core/runtime-config.ts `normaliseDomain`): https:// (wss:// for socket), no IP, no
 * localhost, no wildcard, no path, at most 200 per kind, duplicates refused.
 *
 * Business (web-view) domains need proof of control: the console shows a token the team serves
 * at `https://{domain}/.well-known/graycast-domain-verification.txt`. Verification is honest
 * about how it was done: where the deployment allows outbound fetches
 * (`DOMAIN_VERIFICATION_FETCH = "on"`) the platform fetches the file; otherwise (local runs) the
 * caller supplies the file's content as proof. Only verified business domains reach clients.
 *
 * Roles: every team member lists; admins and developers add, remove and verify. Each change is in
 * the change log and bumps the runtime config in the same D1 batch.
 */
import { and, eq, sql } from "drizzle-orm";
import { ApiError, conflict, notFound } from "../../../core/errors";
import {
  DOMAIN_KINDS,
  DOMAIN_VERIFICATION_PATH,
  type DomainKind,
  MAX_DOMAINS_PER_KIND,
  normaliseDomain,
  schemeOf,
} from "../../../core/runtime-config";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { miniProgramDomains } from "../db/schema";
import { randomId } from "../lib/encoding";
import { READ_ROLES, requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChangeIfChanged } from "./change-log";
import { guardedWrite } from "./d1";
import { bumpConfigRevisionIfChanged } from "./runtime-config";
import { publishCurrentSnapshot } from "./snapshot";

type DomainRow = typeof miniProgramDomains.$inferSelect;

export function describeDomain(row: DomainRow) {
  const kind = row.kind as DomainKind;
  return {
    id: row.id,
    kind,
    domain: row.domain,
    url: `${schemeOf(kind)}://${row.domain}`,
    ...(kind === "business"
      ? {
          verification: {
            state: row.verifiedAt === null ? ("pending" as const) : ("verified" as const),
            token: row.verificationToken ?? "",
            fileUrl: `https://${row.domain}${DOMAIN_VERIFICATION_PATH}`,
            verifiedAt: row.verifiedAt,
          },
        }
      : {}),
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

export async function listDomains(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(miniProgramDomains)
    .where(eq(miniProgramDomains.miniProgramId, appId))
    .orderBy(miniProgramDomains.createdAt, miniProgramDomains.domain)
    .all();
  const domains = Object.fromEntries(DOMAIN_KINDS.map((k) => [k, [] as ReturnType<typeof describeDomain>[]]));
  for (const row of rows) domains[row.kind]?.push(describeDomain(row));
  return { domains, limitPerKind: MAX_DOMAINS_PER_KIND };
}

export async function addDomain(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  kind: DomainKind,
  input: string,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const checked = normaliseDomain(kind, input);
  if ("error" in checked)
    throw new ApiError("bad_request", "the request is invalid", [{ path: "domain", message: checked.error }]);
  const now = Date.now();
  const row: DomainRow = {
    id: randomId("dom_", 10),
    miniProgramId: appId,
    kind,
    domain: checked.domain,
    verificationToken: kind === "business" ? randomId("gcv_", 20) : null,
    verifiedAt: null,
    createdBy: actor.userId,
    createdAt: now,
  };
  // The per-kind limit is checked inside the insert, so racing adds cannot pass it together.
  await guardedWrite(
    db.batch([
      db.insert(miniProgramDomains).select(
        sql`SELECT ${row.id}, ${appId}, ${kind}, ${row.domain}, ${row.verificationToken}, NULL, ${actor.userId}, ${now}
              WHERE (SELECT count(*) FROM mini_program_domains WHERE mini_program_id = ${appId} AND kind = ${kind}) < ${MAX_DOMAINS_PER_KIND}`,
      ),
      recordChangeIfChanged(
        db,
        actor,
        {
          action: "domain.add",
          teamId: mp.teamId,
          targetType: "mini_program",
          targetId: appId,
          detail: { kind, domain: row.domain },
        },
        now,
      ),
      bumpConfigRevisionIfChanged(db, appId),
    ]),
    `${row.domain} is already a ${kind} domain of this mini program`,
  );
  const stored = await db.select().from(miniProgramDomains).where(eq(miniProgramDomains.id, row.id)).get();
  if (!stored)
    throw conflict(`a mini program has at most ${MAX_DOMAINS_PER_KIND} ${kind} domains; remove one first`);
  await publishCurrentSnapshot(db, bucket, appId);
  return describeDomain(stored);
}

export async function removeDomain(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  kind: DomainKind,
  domainId: string,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const row = await findDomain(db, appId, kind, domainId);
  await db.batch([
    db
      .delete(miniProgramDomains)
      .where(and(eq(miniProgramDomains.id, row.id), eq(miniProgramDomains.miniProgramId, appId))),
    recordChangeIfChanged(db, actor, {
      action: "domain.remove",
      teamId: mp.teamId,
      targetType: "mini_program",
      targetId: appId,
      detail: { kind, domain: row.domain },
    }),
    bumpConfigRevisionIfChanged(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
  return { ok: true as const };
}

async function findDomain(db: Db, appId: string, kind: DomainKind, domainId: string): Promise<DomainRow> {
  const row = await db
    .select()
    .from(miniProgramDomains)
    .where(
      and(
        eq(miniProgramDomains.id, domainId),
        eq(miniProgramDomains.miniProgramId, appId),
        eq(miniProgramDomains.kind, kind),
      ),
    )
    .get();
  if (!row) throw notFound(`${kind} domain`);
  return row;
}

/** Bytes of the verification file read at most (a token is ~40 characters). */
const VERIFICATION_FILE_LIMIT = 1024;
const VERIFICATION_FETCH_TIMEOUT_MS = 5_000;

/** The verification file's content, fetched from the domain (no redirects followed), or why not. */
async function fetchVerificationFile(domain: string): Promise<{ text: string } | { error: string }> {
  const url = `https://${domain}${DOMAIN_VERIFICATION_PATH}`;
  try {
    const res = await fetch(url, {
      redirect: "manual",
      signal: AbortSignal.timeout(VERIFICATION_FETCH_TIMEOUT_MS),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { error: `${url} answered HTTP ${res.status}` };
    }
    const reader = res.body?.getReader();
    let text = "";
    const decoder = new TextDecoder();
    let read = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.byteLength;
      if (read > VERIFICATION_FILE_LIMIT) {
        await reader.cancel();
        return { error: `${url} is larger than ${VERIFICATION_FILE_LIMIT} bytes` };
      }
      text += decoder.decode(value, { stream: true });
    }
    return { text };
  } catch (err) {
    return { error: `${url} could not be fetched (${String(err instanceof Error ? err.name : err)})` };
  }
}

/**
 * Verifies a business domain: by fetching its verification file where the deployment allows
 * (`fetchAllowed`), else by the caller's `proof` (the file's content). Either way the content must
 * be the token the console showed.
 */
export async function verifyBusinessDomain(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  domainId: string,
  input: { proof?: string | undefined },
  fetchAllowed: boolean,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const row = await findDomain(db, appId, "business", domainId);
  if (row.verifiedAt !== null) throw conflict(`${row.domain} is already verified`);
  const token = row.verificationToken ?? "";
  let method: "fetch" | "proof";
  if (fetchAllowed) {
    method = "fetch";
    const got = await fetchVerificationFile(row.domain);
    if ("error" in got) throw conflict(`verification failed: ${got.error}`);
    if (got.text.trim() !== token)
      throw conflict(`verification failed: the file does not hold this domain's token`);
  } else {
    method = "proof";
    if (input.proof === undefined)
      throw new ApiError("bad_request", "the request is invalid", [
        {
          path: "proof",
          message: "this deployment does not fetch verification files: send the file's content as proof",
        },
      ]);
    if (input.proof.trim() !== token)
      throw conflict("verification failed: the proof is not this domain's verification token");
  }
  const now = Date.now();
  await db.batch([
    db
      .update(miniProgramDomains)
      .set({ verifiedAt: now })
      .where(and(eq(miniProgramDomains.id, row.id), sql`${miniProgramDomains.verifiedAt} is null`)),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "domain.verify",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { kind: "business", domain: row.domain, method },
      },
      now,
    ),
    bumpConfigRevisionIfChanged(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
  const stored = await db.select().from(miniProgramDomains).where(eq(miniProgramDomains.id, row.id)).get();
  return { ...describeDomain(stored ?? row), method };
}
