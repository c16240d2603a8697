/**
 * Fault injection around the real D1 binding (not a mock: every statement still runs on D1).
 * Each bound statement remembers its SQL, so a test can fail exactly the batch or statement it
 * names; D1 itself then rolls the batch back.
 */

/** Appended to a batch, it violates a NOT NULL constraint: D1 rolls back the whole batch. */
export const FAILING_STATEMENT =
  "insert into mini_programs (id, team_id, name, created_by, updated_at) values (null, null, null, null, null)";

export interface D1Faults {
  /** replaces `batch`: gets the real statements, their SQL, and the real binding */
  batch?(
    statements: D1PreparedStatement[],
    sqlOf: (statement: D1PreparedStatement) => string,
    real: D1Database,
  ): Promise<D1Result[]>;
  /** statements with this SQL fail when run on their own (outside a batch) */
  failAlone?(query: string): boolean;
}

function bindTo<T extends object>(target: T, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop, target);
  return typeof value === "function" ? value.bind(target) : value;
}

export function interceptD1(d1: D1Database, faults: D1Faults): D1Database {
  const sqlOf = new WeakMap<object, string>();
  const real = new WeakMap<object, D1PreparedStatement>();
  const unwrap = (s: D1PreparedStatement) => real.get(s) ?? s;
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) =>
          new Proxy(target.prepare(query), {
            get(s, p) {
              if (p !== "bind") return bindTo(s, p);
              return (...values: unknown[]) => {
                const bound = s.bind(...values);
                sqlOf.set(bound, query);
                if (!faults.failAlone?.(query)) return bound;
                const guarded = new Proxy(bound, {
                  get(b, q) {
                    if (q === "run" || q === "all" || q === "first" || q === "raw")
                      return () => Promise.reject(new Error("D1 unavailable (injected)"));
                    return bindTo(b, q);
                  },
                });
                real.set(guarded, bound);
                return guarded;
              };
            },
          });
      }
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          const plain = statements.map(unwrap);
          return faults.batch ? faults.batch(plain, (s) => sqlOf.get(s) ?? "?", target) : target.batch(plain);
        };
      }
      return bindTo(target, prop);
    },
  });
}
