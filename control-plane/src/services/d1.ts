import { ApiError } from "../../../core/errors";
import type { Db } from "../db/client";

/**
 * Runs a D1 write whose unique indexes guard a rule under races (one version in audit, one
 * release per sequence number...). A violation means another request changed the same thing
 * first: the batch rolled back as a whole and the caller gets a 409, never a 500.
 */
export async function guardedWrite<T>(write: Promise<T>, message: string): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (
      /UNIQUE constraint failed/i.test(
        String((err as Error)?.message ?? err) + String((err as { cause?: unknown })?.cause ?? ""),
      )
    ) {
      throw new ApiError("conflict", message);
    }
    throw err;
  }
}

type BatchItems = Parameters<Db["batch"]>[0];

/** `db.batch()` for a statement list built at run time (the first may be conditional). */
export async function runBatch(db: Db, statements: BatchItems[number][]): Promise<unknown> {
  const [first, ...rest] = statements;
  if (!first) return [];
  return db.batch([first, ...rest]);
}
