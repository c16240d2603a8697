/**
 * Admission tickets are not signed: they ride beside the signed manifest in a check answer. One
 * tampered answer must not make every later check fail (the edge answers 400 to a check carrying
 * a malformed ticket or more than 8), so the client stores only tickets the edge would accept,
 * never sends one it would refuse, and when the edge still refuses its stored tickets it drops
 * them and asks once more. The fake edge validates tickets with the edge's own schema.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CheckRequestSchema,
  MAX_TICKET_LENGTH as EDGE_MAX_TICKET_LENGTH,
  MAX_TICKETS as EDGE_MAX_TICKETS,
} from "../../core/contracts/check";
import { FsStore } from "../src/node";
import { isSendableTicket, MAX_TICKET_LENGTH, MAX_TICKETS } from "../src/tickets";
import { deviceFor, freshEdgeAndDevice } from "./support/client";
import { APP_ID, twoVersions } from "./support/fixtures";

const t = freshEdgeAndDevice();
const { v1 } = await twoVersions();

const sentTickets = () => t.edge.requests.filter((r) => r.path === "/v1/check").map((r) => r.check?.tickets);

async function storedTickets(): Promise<string[]> {
  return (await t.device.client.trustedState()).tickets;
}

/** Writes tickets into the device's stored state, as an older client (or a corrupted disk) may have. */
async function seedTickets(tickets: string[]): Promise<void> {
  const store = new FsStore(join(t.device.root, APP_ID));
  await store.save({ ...(await t.device.client.trustedState()), tickets });
}

describe("admission tickets from unsigned answers", () => {
  it("keeps only tickets the edge would accept from a tampered answer, and later checks still work", async () => {
    t.edge.answer(await t.edge.claims(v1));
    t.edge.tickets = [
      "good.t1",
      "bad ticket!",
      "x".repeat(MAX_TICKET_LENGTH + 1),
      "",
      42,
      null,
      { t: 1 },
      "ok_2-Z",
      "good.t1",
    ];
    await t.device.client.check();
    expect(await storedTickets()).toEqual(["good.t1", "ok_2-Z"]);

    t.edge.tickets = [];
    for (let i = 0; i < 3; i++) expect((await t.device.client.check()).status).toBe("ok");
    expect(sentTickets()).toEqual([
      undefined,
      ["good.t1", "ok_2-Z"],
      ["good.t1", "ok_2-Z"],
      ["good.t1", "ok_2-Z"],
    ]);
  });

  it("keeps at most 8 tickets, the newest, however many an answer carries", async () => {
    t.edge.answer(await t.edge.claims(v1));
    t.edge.tickets = Array.from({ length: 40 }, (_, i) => `t${i}`);
    await t.device.client.check();
    expect(await storedTickets()).toEqual(Array.from({ length: 8 }, (_, i) => `t${32 + i}`));
    t.edge.tickets = [];
    expect((await t.device.client.check()).status).toBe("ok");
  });

  it("never sends a stored ticket the edge would refuse (one an older client kept)", async () => {
    t.edge.answer(await t.edge.claims(v1));
    await t.device.client.check();
    await seedTickets([
      "t1",
      "bad ticket!",
      "y".repeat(600),
      ...Array.from({ length: 9 }, (_, i) => `n${i}`),
    ]);
    expect((await t.device.client.check()).status).toBe("ok");
    expect(sentTickets()[1]).toEqual(["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"]);
    expect(await storedTickets()).toEqual(["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"]);
  });

  it.each(["GET", "POST"] as const)(
    "when the edge refuses the stored tickets (400 naming them), drops them and asks once more (%s)",
    async (checkMethod) => {
      const device = deviceFor(t.edge, { checkMethod });
      try {
        t.edge.answer(await t.edge.claims(v1));
        await device.client.check();
        const store = new FsStore(join(device.root, APP_ID));
        await store.save({
          ...(await device.client.trustedState()),
          tickets: ["old.ticket-1", "old.ticket-2"],
        });
        // Well-formed, but this edge refuses them (an edge with other limits, a rotated format).
        t.edge.refuseTickets = (tickets) => tickets.some((x) => x.startsWith("old."));
        t.edge.requests.length = 0;

        expect((await device.client.check()).status).toBe("ok");
        expect(sentTickets()).toEqual([["old.ticket-1", "old.ticket-2"], undefined]);
        expect((await device.client.trustedState()).tickets).toEqual([]);
        // Only once: the next check carries nothing to refuse.
        expect((await device.client.check()).status).toBe("ok");
        expect(sentTickets()).toEqual([["old.ticket-1", "old.ticket-2"], undefined, undefined]);
      } finally {
        device.cleanup();
      }
    },
  );

  it("any other refusal is not retried", async () => {
    t.edge.answer(await t.edge.claims(v1));
    await t.device.client.check();
    await seedTickets(["t1"]);
    t.edge.answer(() => "not a jws");
    t.edge.requests.length = 0;
    await expect(t.device.client.check()).rejects.toMatchObject({ code: "bad_manifest" });
    expect(sentTickets()).toEqual([["t1"]]);
    expect(await storedTickets()).toEqual(["t1"]);
  });
});

describe("the client's ticket limits are the edge's", () => {
  it("MAX_TICKETS and MAX_TICKET_LENGTH equal core/contracts/check.ts", () => {
    expect(MAX_TICKETS).toBe(EDGE_MAX_TICKETS);
    expect(MAX_TICKET_LENGTH).toBe(EDGE_MAX_TICKET_LENGTH);
  });

  it("accepts exactly the tickets the edge's schema accepts", () => {
    const samples = [
      "a",
      "eyJ0IjoiZ3QifQ.c2ln",
      "A-Z_a-z.0-9",
      "x".repeat(512),
      "x".repeat(513),
      "",
      "a b",
      "a+b",
      "a/b",
      "a=b",
      "ü",
      "a\n",
      "tab\t",
    ];
    for (const ticket of samples)
      expect(isSendableTicket(ticket), JSON.stringify(ticket)).toBe(
        CheckRequestSchema.shape.tickets.safeParse([ticket]).success,
      );
  });
});
