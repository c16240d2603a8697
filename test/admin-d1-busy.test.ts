/**
 * The admin and builder Workers open one local D1 file from two processes under `npm start`, and
 * workerd sets SQLite no busy timeout: control-plane/src/db/busy-retry.ts retries what met the
 * other process's lock. Fault injection: a wrapper around the real D1 binding fails chosen calls
 * the way local D1 does, then lets them through.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { teams } from "../control-plane/src/db/schema";
import { testEnv } from "./env";

/** The real binding, failing the next `failures` calls of statements (and batches) with `error`. */
function lockedD1(real: D1Database, failures: number, error: string) {
  const state = { left: failures, calls: 0 };
  const fail = <T>(call: () => Promise<T>): Promise<T> => {
    state.calls += 1;
    if (state.left > 0) {
      state.left -= 1;
      return Promise.reject(new Error(error));
    }
    return call();
  };
  const inner = new WeakMap<object, D1PreparedStatement>();
  const statement = (s: D1PreparedStatement): D1PreparedStatement => {
    const wrapped = {
      bind: (...values: unknown[]) => statement(s.bind(...values)),
      first: (column?: string) => fail(() => (column === undefined ? s.first() : s.first(column))),
      run: () => fail(() => s.run()),
      all: () => fail(() => s.all()),
      raw: (options?: { columnNames?: boolean }) =>
        fail(() => (options?.columnNames ? s.raw({ columnNames: true }) : s.raw())),
    } as unknown as D1PreparedStatement;
    inner.set(wrapped, s);
    return wrapped;
  };
  const d1 = {
    prepare: (query: string) => statement(real.prepare(query)),
    batch: (statements: D1PreparedStatement[]) =>
      fail(() => real.batch(statements.map((s) => inner.get(s) ?? s))),
    exec: (query: string) => fail(() => real.exec(query)),
  } as unknown as D1Database;
  return { d1, state };
}

/** The D1 error under Drizzle's "Failed query" wrapper. */
async function d1Error(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    return String((err as Error).cause ?? err);
  }
  return "no error";
}

const BUSY = "D1_ERROR: database is locked: SQLITE_BUSY";
const AFTER_READ = "D1_ERROR: Failed to get session commit token: internal error; reference = x";

describe("D1 calls that meet another process's lock", () => {
  it("a read, a write and a batch that meet SQLITE_BUSY are run again and succeed", async () => {
    const id = `team_busy_${crypto.randomUUID().slice(0, 8)}`;
    const write = lockedD1(testEnv.DB, 2, BUSY);
    await createDb(write.d1)
      .insert(teams)
      .values({ id, name: `Busy ${id}`, createdAt: 1 })
      .run();
    expect(write.state).toEqual({ left: 0, calls: 3 });
    const read = lockedD1(testEnv.DB, 3, BUSY);
    expect(await createDb(read.d1).select().from(teams).where(eq(teams.id, id)).get()).toMatchObject({
      name: `Busy ${id}`,
    });
    expect(read.state.calls).toBe(4);
    const batch = lockedD1(testEnv.DB, 1, BUSY);
    const db = createDb(batch.d1);
    await db.batch([
      db
        .update(teams)
        .set({ name: `Busy 2 ${id}` })
        .where(eq(teams.id, id)),
      db.select().from(teams).where(eq(teams.id, id)),
    ]);
    expect(batch.state.calls).toBe(2);
    expect((await createDb(testEnv.DB).select().from(teams).where(eq(teams.id, id)).get())?.name).toBe(
      `Busy 2 ${id}`,
    );
  });

  it("a lock met after a read is retried for a select only; a write's unknown outcome is not run twice", async () => {
    const id = `team_busy_${crypto.randomUUID().slice(0, 8)}`;
    await createDb(testEnv.DB)
      .insert(teams)
      .values({ id, name: `Once ${id}`, createdAt: 1 })
      .run();
    const read = lockedD1(testEnv.DB, 1, AFTER_READ);
    expect(await createDb(read.d1).select().from(teams).where(eq(teams.id, id)).get()).toMatchObject({
      name: `Once ${id}`,
    });
    expect(read.state.calls).toBe(2);
    const write = lockedD1(testEnv.DB, 1, AFTER_READ);
    expect(
      await d1Error(
        createDb(write.d1)
          .update(teams)
          .set({ name: `Twice ${id}` })
          .where(eq(teams.id, id))
          .run(),
      ),
    ).toMatch(/commit token/);
    expect(write.state.calls).toBe(1);
  });

  it("other errors are not retried, and a lock that never clears fails after a bounded number of tries", async () => {
    const other = lockedD1(testEnv.DB, 1, "D1_ERROR: no such table: nope");
    expect(await d1Error(createDb(other.d1).select().from(teams).get())).toMatch(/no such table/);
    expect(other.state.calls).toBe(1);
    const stuck = lockedD1(testEnv.DB, 100, BUSY);
    expect(await d1Error(createDb(stuck.d1).select().from(teams).get())).toMatch(/SQLITE_BUSY/);
    expect(stuck.state.calls).toBe(8);
  });
});
