/**
 * A bounded retry for D1 calls that fail with SQLITE_BUSY: the busy timeout workerd does not set.
 *
 * Under `npm start` the admin and builder Workers run in two `wrangler dev` processes over one
 * local D1 SQLite file (one process would stall admin requests during builds, docs/increments.md),
 * and a query that meets the other process's write at the same instant fails at once with
 * "database is locked: SQLITE_BUSY" (measured: a 500 on the increments listing in 4 of 4 builds
 * while polling it). SQLite reports BUSY before a statement (or a batch, one transaction) changes
 * anything, so running it again is safe. Deployed D1 is one database service; the wrapper then only
 * passes calls through.
 */
const DELAYS_MS = [5, 10, 20, 40, 80, 160, 320];

const message = (err: unknown) => String(err instanceof Error ? err.message : err);
const isBusy = (err: unknown) => /SQLITE_BUSY/.test(message(err));
/**
 * Local D1 reports a lock met after a read as "Failed to get session commit token: internal
 * error" (the bookmark read hit the lock). Retried for reads only: a write may have committed.
 */
const isBusyAfterRead = (err: unknown) =>
  isBusy(err) || /Failed to get session commit token/.test(message(err));

async function retrying<T>(
  call: () => Promise<T>,
  retryable: (err: unknown) => boolean = isBusy,
): Promise<T> {
  for (const delay of DELAYS_MS) {
    try {
      return await call();
    } catch (err) {
      if (!retryable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return call();
}

/** The real statement behind each wrapped one, for `batch`. */
const unwrapped = new WeakMap<D1PreparedStatement, D1PreparedStatement>();

function wrapStatement(real: D1PreparedStatement, query: string): D1PreparedStatement {
  const retryable = /^\s*select\b/i.test(query) ? isBusyAfterRead : isBusy;
  const wrapped: D1PreparedStatement = {
    bind: (...values: unknown[]) => wrapStatement(real.bind(...values), query),
    first: ((column?: string) =>
      retrying(
        () => (column === undefined ? real.first() : real.first(column)),
        retryable,
      )) as D1PreparedStatement["first"],
    run: (() => retrying(() => real.run(), retryable)) as D1PreparedStatement["run"],
    all: (() => retrying(() => real.all(), retryable)) as D1PreparedStatement["all"],
    raw: ((options?: { columnNames?: boolean }) =>
      retrying<unknown>(
        () => (options?.columnNames ? real.raw({ columnNames: true }) : real.raw()),
        retryable,
      )) as D1PreparedStatement["raw"],
  };
  unwrapped.set(wrapped, real);
  return wrapped;
}

/** `d1` with every statement, batch and exec retried on SQLITE_BUSY (a few times, under 0.7 s). */
export function retryBusy(d1: D1Database): D1Database {
  return {
    prepare: (query: string) => wrapStatement(d1.prepare(query), query),
    batch: ((statements: D1PreparedStatement[]) =>
      retrying(() => d1.batch(statements.map((s) => unwrapped.get(s) ?? s)))) as D1Database["batch"],
    exec: (query: string) => retrying(() => d1.exec(query)),
    withSession: (constraintOrBookmark?: string) => d1.withSession(constraintOrBookmark),
    dump: () => d1.dump(),
  } as D1Database;
}

/**
 * Local R2 under `npm start` has the same two-process shape: the builder writes increments while
 * the admin Worker stores an upload, and the local object store then fails the call with
 * "put: Unspecified error (0)" (seen in CI: a 500 on an upload right after a publish). Reads,
 * deletes and puts of a buffered value are safe to run again (a put writes the same bytes under
 * the same key); a put of a stream is not, so it passes through.
 */
const isLocalStoreBusy = (err: unknown) =>
  isBusy(err) || /Unspecified error \(0\)|database is locked/.test(message(err));

const RETRIED_BUCKET_CALLS = new Set(["head", "get", "put", "delete", "list"]);

/** `bucket` with reads, deletes and buffered puts retried when the local store is busy. */
export function retryBusyBucket(bucket: R2Bucket): R2Bucket {
  // A caller without the binding (the OpenAPI generator runs the app with an empty env) gets it as is.
  if (typeof bucket !== "object" || bucket === null) return bucket;
  return new Proxy(bucket, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (typeof prop !== "string" || !RETRIED_BUCKET_CALLS.has(prop)) return value.bind(target);
      return (...args: unknown[]) => {
        if (prop === "put" && args[1] instanceof ReadableStream) return value.apply(target, args);
        return retrying(() => value.apply(target, args), isLocalStoreBusy);
      };
    },
  });
}

/** `env` with PACKAGES through `retryBusyBucket`: what every admin and builder handler is given. */
export const withBusyRetries = <E extends { PACKAGES: R2Bucket }>(env: E): E => ({
  ...env,
  PACKAGES: retryBusyBucket(env.PACKAGES),
});
