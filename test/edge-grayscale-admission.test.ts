/**
 * Capped grayscale tasks through POST /v1/check with the real GrayscaleCounter: admission under
 * the cap, admission tickets, sticky-only tasks, and exactness under concurrent checks.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CompiledTask } from "../core/grayscale/types";
import { issueTicket, loadTicketKey, peekTicket, ticketExpiry } from "../edge-worker/src/tickets";
import {
  check,
  client,
  compiledTask,
  counterOf,
  edgeEnv,
  newAppId,
  newTaskId,
  online,
  packageRef,
  postCheck,
  putSnapshot,
} from "./support/edge";

const ONLINE = "2.0.0";
const GRAY = "2.1.0";

/** A fresh app with online ONLINE and one task GRAY; `update` rewrites the task (next revision). */
async function appWithTask(extra: Partial<CompiledTask>) {
  const appId = newAppId();
  let task = compiledTask(GRAY, packageRef("7"), extra);
  let revision = 1;
  await putSnapshot({ appId, revision, online: online(ONLINE, packageRef("0")), tasks: [task] });
  return {
    appId,
    get task() {
      return task;
    },
    async update(change: Partial<CompiledTask>) {
      task = { ...task, ...change };
      await putSnapshot({
        appId,
        revision: ++revision,
        online: online(ONLINE, packageRef("0")),
        tasks: [task],
      });
    },
    /** check as `guid`, presenting `tickets` */
    check: (guid: string, tickets?: string[], extraFields: Record<string, unknown> = {}, verify = true) =>
      check(client(appId, { guid, ...(tickets ? { tickets } : {}), ...extraFields }), undefined, { verify }),
  };
}

describe("capped grayscale tasks", () => {
  it("admits users until the cap, then gives the online version; admitted users keep theirs", async () => {
    const app = await appWithTask({ userCap: 2 });
    const a = await app.check("a");
    const b = await app.check("b");
    const c = await app.check("c");
    expect([a, b, c].map((r) => r.claims.version)).toEqual([GRAY, GRAY, ONLINE]);
    expect(a.tickets).toHaveLength(1);
    expect(c.tickets).toEqual([]);
    expect(peekTicket(a.tickets[0] as string)).toEqual({
      t: app.task.id,
      u: "g:a",
      v: GRAY,
      exp: ticketExpiry(app.task.endAt),
    });
    // Even without its ticket, an admitted user is recognised by the counter (admission is idempotent).
    expect((await app.check("a")).claims.version).toBe(GRAY);
    expect((await app.check("b", b.tickets)).claims.version).toBe(GRAY);
    expect(await counterOf(app.task.id).progress()).toMatchObject({
      admitted: 2,
      byPlatform: { android: 2 },
    });
  });

  it("a ticket alone carries its holder: the counter is not needed to keep the version", async () => {
    const app = await appWithTask({ userCap: 1 });
    const first = await app.check("holder");
    expect(first.claims.version).toBe(GRAY);
    // Make the counter forget the holder and refuse everyone: only the ticket can still admit.
    await app.update({ userCap: 0 });
    await runInDurableObject(counterOf(app.task.id), (_instance, state) => {
      state.storage.sql.exec("DELETE FROM admitted");
    });
    const again = await app.check("holder", first.tickets);
    expect(again.claims).toMatchObject({ reason: "grayscale", version: GRAY, taskId: app.task.id });
    expect(again.tickets).toEqual(first.tickets); // echoed, still valid
    expect((await app.check("holder")).claims.version).toBe(ONLINE);
    expect((await app.check("newcomer")).claims.version).toBe(ONLINE);
  });

  it("refuses tampered, expired, other-task, other-user and foreign-key tickets", async () => {
    // Sticky task: no one can be admitted now, so only a valid ticket can give the version.
    const app = await appWithTask({ userCap: 10 });
    const { tickets } = await app.check("alice");
    await app.update({ phase: "sticky" });
    const valid = tickets[0] as string;
    expect((await app.check("alice", [valid])).claims.version).toBe(GRAY);

    const [body, mac] = valid.split(".") as [string, string];
    const payload = peekTicket(valid)!;
    const encode = (p: object) =>
      btoa(JSON.stringify(p)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const flipped = `${body}.${mac.slice(0, -2)}${mac.at(-2) === "A" ? "B" : "A"}${mac.at(-1)}`;
    const key = await loadTicketKey(edgeEnv.ADMISSION_TICKET_SECRET);
    const otherKey = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode("another-secret-another-secret-0123456789"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const refused: Record<string, [guid: string, ticket: string]> = {
      "MAC altered": ["alice", flipped],
      "payload rewritten for another user": ["bob", `${encode({ ...payload, u: "g:bob" })}.${mac}`],
      "another user's ticket": ["bob", valid],
      expired: ["alice", await issueTicket(key, { ...payload, exp: Math.floor(Date.now() / 1000) - 1 })],
      "another task's ticket": ["alice", await issueTicket(key, { ...payload, t: newTaskId() })],
      "another version's ticket": ["alice", await issueTicket(key, { ...payload, v: "2.0.5" })],
      "signed with another key": ["alice", await issueTicket(otherKey, payload)],
      garbage: ["alice", "not-a-ticket"],
    };
    for (const [what, [guid, ticket]] of Object.entries(refused)) {
      const answer = await app.check(guid, [ticket]);
      expect(answer.claims.version, what).toBe(ONLINE);
      expect(answer.tickets, what).toEqual([]);
    }
  });

  it("sticky-only task: ticket holders keep it, newcomers get online, a ticketless user running it is looked up", async () => {
    const app = await appWithTask({ userCap: 5 });
    const alice = await app.check("alice");
    expect(alice.claims.version).toBe(GRAY);
    await app.update({ phase: "sticky", endAt: Date.now() - 1_000 }); // ended by its end time

    // With a ticket: kept.
    expect((await app.check("alice", alice.tickets)).claims.version).toBe(GRAY);
    // Without a ticket and not running the version: not asked, online.
    expect((await app.check("alice")).claims.version).toBe(ONLINE);
    // Without a ticket but running the version (lost its storage): the counter remembers alice.
    const recovered = await app.check("alice", undefined, { installedVersion: GRAY });
    expect(recovered.claims).toMatchObject({ reason: "grayscale", version: GRAY, rollback: false });
    expect(recovered.tickets).toHaveLength(1);
    expect((await app.check("alice", recovered.tickets)).claims.version).toBe(GRAY);
    // Newcomers, even one claiming to run the version, are not admitted by a sticky task.
    expect((await app.check("carol")).claims.version).toBe(ONLINE);
    const claimer = await app.check("mallory", undefined, { installedVersion: GRAY });
    expect(claimer.claims).toMatchObject({ version: ONLINE, rollback: true });
    expect(await counterOf(app.task.id).progress()).toMatchObject({ admitted: 1 });
  });

  it("sticky-only task without a cap: ticket holders keep it, nobody else gets it", async () => {
    const app = await appWithTask({});
    const first = await app.check("u1");
    expect(first.claims.version).toBe(GRAY);
    expect(first.tickets).toHaveLength(1);
    await app.update({ phase: "sticky" }); // suspended
    expect((await app.check("u1", first.tickets)).claims.version).toBe(GRAY);
    expect((await app.check("u2")).claims.version).toBe(ONLINE);
    expect((await app.check("u2", undefined, { installedVersion: GRAY })).claims.version).toBe(ONLINE);
  });

  it("a capped task needs a user identity: an anonymous client gets online and takes no slot", async () => {
    const appId = newAppId();
    const task = compiledTask(GRAY, packageRef("7"), { userCap: 5 });
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")), tasks: [task] });
    expect((await check(client(appId))).claims.version).toBe(ONLINE);
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: 0 });
  });

  it("fires thousands of concurrent checks from distinct and repeated users at a small cap and finds exactly `cap` admitted", async () => {
    const cap = 37;
    const users = 500;
    const app = await appWithTask({ userCap: cap });
    const order = Array.from({ length: 2000 }, (_, i) => `user-${(i * 7) % users}`);
    // Signatures are verified by the other tests; here the client side only decodes, to keep the load on the Worker.
    const answers = await Promise.all(
      order.map(async (guid) => ({ guid, ...(await app.check(guid, undefined, {}, false)) })),
    );

    const winners = new Map<string, Set<string>>();
    for (const { guid, claims, tickets } of answers) {
      if (claims.version !== GRAY) {
        expect(claims.version).toBe(ONLINE);
        continue;
      }
      expect(tickets).toHaveLength(1);
      winners.set(guid, new Set([...(winners.get(guid) ?? []), ...tickets]));
    }
    expect(winners.size).toBe(cap);
    expect(await counterOf(app.task.id).progress()).toMatchObject({ admitted: cap });

    // Each admitted user re-checking (with its ticket, or without) gets the same version; nobody else does.
    for (const [guid, tickets] of winners) {
      expect((await app.check(guid, [...tickets].slice(0, 1))).claims.version).toBe(GRAY);
    }
    const recheck = await Promise.all(
      Array.from({ length: users }, (_, i) => app.check(`user-${i}`, undefined, {}, false)),
    );
    const again = recheck.flatMap((r, i) => (r.claims.version === GRAY ? [`user-${i}`] : []));
    expect(new Set(again)).toEqual(new Set(winners.keys()));
    expect(await counterOf(app.task.id).progress()).toMatchObject({ admitted: cap });
  }, 60_000);
});

describe("check request and response contract for tickets", () => {
  it("refuses more than 8 tickets, an over-long ticket or a ticket with foreign characters", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")) });
    for (const tickets of [Array.from({ length: 9 }, () => "a.b"), ["a".repeat(513)], ["a b.c"], [""]]) {
      const res = await postCheck(client(appId, { tickets }));
      expect(res.status).toBe(400);
      const body = await res.json<{ error: { code: string; issues: { path: string }[] } }>();
      expect(body.error.code).toBe("bad_request");
      expect(body.error.issues[0]?.path).toMatch(/^tickets/);
    }
    const ok = await postCheck(client(appId, { tickets: Array.from({ length: 8 }, () => "a".repeat(512)) }));
    expect(ok.status).toBe(200);
    // No grayscale: no tickets key at all.
    expect(Object.keys(await ok.json<object>())).toEqual(["manifest"]);
  });
});
