/**
 * Real-time logs, the query (PRODUCT.md X4; issue 15): `GET /v1/mini-programs/{appId}/logs` with
 * exactly the seed's criteria ("time, log level dimensions (all, info and above, warn and above,
 * error and above), system type, Guid, page link, filterMsg content, basic library version, and
 * client version"), newest first, by cursor; the owning team only; the 7-day retention by the cron.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { consumeLogBatches, logTableOf, queryLogs, sweepLogs } from "../control-plane/src/services/logs";
import { LOG_LIMITS, type LogEntry, type LogQueueMessage, type LogRecord } from "../core/contracts/logs";
import { testEnv } from "./env";
import { callAdmin, expectJson, makeMiniProgram, makeWorld, runCron, type World } from "./support/admin";
import { online, packageRef, putSnapshot } from "./support/edge";
import { deliverLogs, entry, logBatch, recordingEdge } from "./support/logs";

const DAY = 86_400_000;

let world: World;
let appId: string;
let otherApp: string;
const now = Date.now();

/** Stores entries as the consumer does: one message per entry, each with its own device facts. */
async function store(
  app: string,
  rows: (Partial<LogEntry> & {
    device?: Partial<Omit<LogQueueMessage["batch"], "entries">>;
  })[],
  at = now,
) {
  const messages: LogQueueMessage[] = rows.map(({ device, ...e }) => ({
    batch: logBatch(app, { ...device, entries: [entry(e)] }),
    receivedAt: at,
  }));
  await consumeLogBatches(testEnv, messages, at);
}

async function logs(query: string, token = world.devA.token, app = appId) {
  return expectJson<{ entries: LogRecord[]; nextCursor: string | null }>(
    callAdmin("GET", `/v1/mini-programs/${app}/logs${query ? `?${query}` : ""}`, { token }),
    200,
  );
}

const messages = async (query: string) => (await logs(query)).entries.map((e) => e.message);

beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
  otherApp = await makeMiniProgram(world);
  const facts = (
    platform: "ios" | "android",
    guid: string,
    baseLibraryVersion: string,
    clientVersion: string,
  ) => ({
    platform,
    guid,
    baseLibraryVersion,
    clientVersion,
  });
  await store(appId, [
    {
      message: "m1",
      time: now - 1000,
      level: "debug",
      page: "pages/index",
      filterMsg: ["order"],
      device: facts("ios", "guid-a", "3.4.0", "1.0.0"),
    },
    {
      message: "m2",
      time: now - 2000,
      level: "info",
      page: "pages/detail",
      filterMsg: ["pay-fail", "x"],
      device: facts("android", "guid-b", "3.5.0", "1.1.0"),
    },
    {
      message: "m3",
      time: now - 3000,
      level: "warn",
      page: "pages/detail",
      device: facts("ios", "guid-a", "3.4.0", "1.1.0"),
    },
    {
      message: "m4",
      time: now - 4000,
      level: "error",
      page: "pages/index",
      filterMsg: ["checkout"],
      crash: true,
      device: facts("android", "guid-c", "3.5.0", "1.0.0"),
    },
    {
      message: "m5",
      time: now - 2 * DAY,
      level: "error",
      page: "pages/index",
      filterMsg: ["order"],
      device: facts("ios", "guid-b", "3.4.0", "1.0.0"),
    },
  ]);
  // Another mini program's entries, matching every filter above: never answered for appId.
  await store(otherApp, [
    {
      message: "other",
      time: now - 1500,
      level: "error",
      filterMsg: ["order"],
      device: facts("ios", "guid-a", "3.4.0", "1.0.0"),
    },
  ]);
});

describe("GET /v1/mini-programs/{appId}/logs: the seed's filters", () => {
  it("answers every entry newest first, across days, with the device facts of its batch", async () => {
    const page = await logs("");
    expect(page.entries.map((e) => e.message)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(page.nextCursor).toBeNull();
    expect(page.entries[3]).toMatchObject({
      time: now - 4000,
      level: "error",
      page: "pages/index",
      filterMsg: ["checkout"],
      crash: true,
      guid: "guid-c",
      platform: "android",
      osVersion: "17.4.1",
      baseLibraryVersion: "3.5.0",
      clientVersion: "1.0.0",
      hostAppVersion: "8.0.50",
      receivedAt: now,
    });
    expect(page.entries[1]!.filterMsg).toEqual(["pay-fail", "x"]);
  });

  it("level: all, or info / warn / error and above", async () => {
    expect(await messages("level=all")).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(await messages("level=info")).toEqual(["m2", "m3", "m4", "m5"]);
    expect(await messages("level=warn")).toEqual(["m3", "m4", "m5"]);
    expect(await messages("level=error")).toEqual(["m4", "m5"]);
  });

  it("time range: from and to, inclusive", async () => {
    expect(await messages(`from=${now - 3000}&to=${now - 2000}`)).toEqual(["m2", "m3"]);
    expect(await messages(`from=${now - 3500}`)).toEqual(["m1", "m2", "m3"]);
    expect(await messages(`to=${now - 3500}`)).toEqual(["m4", "m5"]);
    expect(await messages(`from=${now - 3 * DAY}&to=${now - DAY}`)).toEqual(["m5"]);
  });

  it("platform (system type), guid, page link, base library version, client version: exact", async () => {
    expect(await messages("platform=ios")).toEqual(["m1", "m3", "m5"]);
    expect(await messages("platform=android")).toEqual(["m2", "m4"]);
    expect(await messages("guid=guid-a")).toEqual(["m1", "m3"]);
    expect(await messages("guid=guid-b")).toEqual(["m2", "m5"]);
    expect(await messages("guid=guid")).toEqual([]);
    expect(await messages("page=pages%2Fdetail")).toEqual(["m2", "m3"]);
    expect(await messages("page=pages")).toEqual([]);
    expect(await messages("baseLibraryVersion=3.5.0")).toEqual(["m2", "m4"]);
    expect(await messages("clientVersion=1.1.0")).toEqual(["m2", "m3"]);
  });

  it("filterMsg: text within one of the entry's tags, never across two", async () => {
    expect(await messages("filterMsg=order")).toEqual(["m1", "m5"]);
    expect(await messages("filterMsg=rde")).toEqual(["m1", "m5"]);
    expect(await messages("filterMsg=pay")).toEqual(["m2"]);
    expect(await messages("filterMsg=x")).toEqual(["m2"]);
    expect(await messages("filterMsg=failx")).toEqual([]);
    expect(await messages("filterMsg=Order")).toEqual([]);
  });

  it("filters combine (AND)", async () => {
    expect(await messages("level=warn&platform=ios")).toEqual(["m3", "m5"]);
    expect(await messages(`guid=guid-b&level=error&from=${now - DAY}`)).toEqual([]);
    expect(
      await messages("page=pages%2Findex&clientVersion=1.0.0&baseLibraryVersion=3.4.0&filterMsg=ord"),
    ).toEqual(["m1", "m5"]);
  });
});

describe("cursor paging", () => {
  it("pages through every entry newest first, same-millisecond entries included, none twice", async () => {
    const app = await makeMiniProgram(world);
    const base = now - 10_000;
    // 23 entries over 3 days; 6 share one millisecond (ordered by arrival among themselves).
    const rows = [
      ...Array.from({ length: 10 }, (_, i) => ({ message: `a${i}`, time: base - i * 100 })),
      ...Array.from({ length: 6 }, (_, i) => ({ message: `same${i}`, time: base - DAY })),
      ...Array.from({ length: 7 }, (_, i) => ({ message: `c${i}`, time: base - 2 * DAY - i })),
    ];
    await store(app, rows);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await logs(`limit=4${cursor ? `&cursor=${cursor}` : ""}`, world.devA.token, app);
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...page.entries.map((e) => e.message));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(6);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
    expect(seen.slice(0, 10)).toEqual(rows.slice(0, 10).map((r) => r.message));
    // Same millisecond: newest arrival first, all six present.
    expect(seen.slice(10, 16)).toEqual(["same5", "same4", "same3", "same2", "same1", "same0"]);
    expect(seen.slice(16)).toEqual(rows.slice(16).map((r) => r.message));
  });

  it("keeps the filters on every page", async () => {
    const app = await makeMiniProgram(world);
    await store(
      app,
      Array.from({ length: 12 }, (_, i) => ({
        message: `e${i}`,
        time: now - 1000 - i,
        level: i % 2 === 0 ? ("error" as const) : ("info" as const),
      })),
    );
    const first = await logs("level=error&limit=4", world.devA.token, app);
    expect(first.entries.map((e) => e.message)).toEqual(["e0", "e2", "e4", "e6"]);
    const second = await logs(`level=error&limit=4&cursor=${first.nextCursor}`, world.devA.token, app);
    expect(second.entries.map((e) => e.message)).toEqual(["e8", "e10"]);
    expect(second.nextCursor).toBeNull();
  });
});

describe("input and authorization", () => {
  it("answers every malformed query with 400 in the one error shape, never a 5xx", async () => {
    const bad = [
      "level=fatal",
      "level=",
      "platform=windows",
      "from=-1",
      "from=abc",
      "to=1.5",
      `from=${now}&to=${now - 1}`,
      "limit=0",
      `limit=${201}`,
      "limit=ten",
      "cursor=!!!",
      "cursor=bm90IGEgY3Vyc29y",
      `cursor=${"A".repeat(300)}`,
      "clientVersion=1.0",
      "baseLibraryVersion=x",
      `guid=${"g".repeat(129)}`,
      "guid=%00",
      `filterMsg=${"f".repeat(65)}`,
      "unknown=1",
    ];
    for (const query of bad) {
      const res = await callAdmin("GET", `/v1/mini-programs/${appId}/logs?${query}`, {
        token: world.devA.token,
      });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    }
  });

  it("only the owning team reads its logs: any role of it; another team gets 404, no credentials 401", async () => {
    expect((await logs("", world.viewerA.token)).entries).toHaveLength(5);
    expect((await logs("", world.adminA.token)).entries).toHaveLength(5);
    for (const token of [world.devB.token, world.manager1.token, world.platform.token]) {
      const res = await callAdmin("GET", `/v1/mini-programs/${appId}/logs`, { token });
      expect(res.status).toBe(404);
      await res.body?.cancel();
    }
    expect((await callAdmin("GET", `/v1/mini-programs/${appId}/logs`)).status).toBe(401);
  });

  it("an API token needs the read scope, which any scope set includes", async () => {
    const read = await expectJson<{ token: string }>(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "logs", scopes: ["read"] },
      }),
      201,
    );
    expect((await logs("", read.token)).entries).toHaveLength(5);
  });
});

describe("end to end", () => {
  it("a batch posted to the edge is answered by the query once the consumer ran", async () => {
    await putSnapshot({ appId, online: online("1.0.0", packageRef("le")) });
    const edge = recordingEdge();
    const guid = `e2e-${crypto.randomUUID()}`;
    const res = await edge.postBatch(
      logBatch(appId, { guid, entries: [entry({ message: "through the queue" })] }),
    );
    expect(res.status).toBe(202);
    expect((await logs(`guid=${guid}`)).entries).toEqual([]);
    await deliverLogs(edge.sent);
    expect((await logs(`guid=${guid}`)).entries.map((e) => e.message)).toEqual(["through the queue"]);
  });
});

describe("retention: 7 days, by the cron", () => {
  it("drops whole day tables past 7 days and, on the hour, the expired rows of the boundary day; queries never answer them", async () => {
    const app = await makeMiniProgram(world);
    // The cron run at the next full hour: the boundary sweep runs on the hour.
    const at = Math.ceil((Date.now() + 1) / 3_600_000) * 3_600_000;
    const cutoff = at - LOG_LIMITS.maxAgeMs;
    const times = { gone: at - 8 * DAY - 3_600_000, expired: cutoff - 60_000, kept: cutoff + 60_000 };
    for (const [message, time] of Object.entries(times)) await store(app, [{ message, time }], time + 1000);
    const goneTable = logTableOf(times.gone);
    const count = async (table: string) =>
      (
        await testEnv.LOGS_DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE app_id = ?1`)
          .bind(app)
          .first<{ n: number }>()
      )?.n;
    expect(await count(goneTable)).toBe(1);
    // Before any sweep, a query at that time already leaves out what is past the retention.
    const before = await queryLogs(testEnv, app, { level: "all", limit: 50 }, at);
    expect(before.entries.map((e) => e.message)).toEqual(["kept"]);

    await runCron(at);
    const tables = await testEnv.LOGS_DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all<{
      name: string;
    }>();
    expect(tables.results.map((t) => t.name)).not.toContain(goneTable);
    // The expired row shared the kept row's day (rows deleted) or lay in the day before (table dropped).
    if (logTableOf(times.expired) !== logTableOf(times.kept))
      expect(tables.results.map((t) => t.name)).not.toContain(logTableOf(times.expired));
    expect(await count(logTableOf(times.kept))).toBe(1);
    const { results } = await testEnv.LOGS_DB.prepare(
      `SELECT message FROM ${logTableOf(times.kept)} WHERE app_id = ?1`,
    )
      .bind(app)
      .all<{ message: string }>();
    expect(results.map((r) => r.message)).toEqual(["kept"]);
  });

  it("the consumer leaves out entries that passed the retention while queued", async () => {
    const app = await makeMiniProgram(world);
    const at = Date.now();
    const result = await consumeLogBatches(
      testEnv,
      [
        {
          batch: logBatch(app, {
            entries: [
              entry({ message: "aged in the queue", time: at - LOG_LIMITS.maxAgeMs - 1 }),
              entry({ message: "fresh", time: at - 1 }),
            ],
          }),
          receivedAt: at - LOG_LIMITS.maxAgeMs + 1000,
        },
      ],
      at,
    );
    expect(result).toEqual({ stored: 1, expired: 1, malformed: 0 });
    expect((await logs("", world.devA.token, app)).entries.map((e) => e.message)).toEqual(["fresh"]);
  });

  it("off the hour, the cron drops whole days only (the boundary scan runs hourly)", async () => {
    const app = await makeMiniProgram(world);
    const at = Math.ceil((Date.now() + 1) / 3_600_000) * 3_600_000 + 5 * 60_000;
    const cutoff = at - LOG_LIMITS.maxAgeMs;
    // Same day as the cutoff unless the cutoff is within a minute of midnight (it is 5 past the hour).
    await store(app, [{ message: "expired", time: cutoff - 60_000 }], cutoff);
    const off = await sweepLogs(testEnv, at, false);
    expect(off.deleted).toBe(0);
    const on = await sweepLogs(testEnv, at, true);
    expect(on.deleted).toBeGreaterThanOrEqual(1);
  });
});
