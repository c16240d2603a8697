/**
 * Newest-first keyset paging over (createdAt, id), for lists that grow while they are read (a
 * user's inbox, dead letters): a page's cursor is `${createdAt}.${id}` of its last row, and the
 * next page is the rows strictly before it in (createdAt desc, id desc) order, so no row is
 * shown twice or skipped when new rows arrive between two pages.
 *
 *   const rows = await db.select().from(t)
 *     .where(and(eq(t.owner, owner), before(t.createdAt, t.id, cursor)))
 *     .orderBy(desc(t.createdAt), desc(t.id)).limit(limit + 1).all();
 *   const { page, nextCursor } = pageOf(rows, limit);
 */
import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { ApiError } from "../../../core/errors";

/** The position a cursor names; a cursor that is not one this module wrote is a 400. */
export function parseCursor(cursor: string | undefined): { at: number; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const m = /^(\d{1,15})\.([A-Za-z0-9_]{1,40})$/.exec(cursor);
  if (!m) throw new ApiError("bad_request", "cursor: pass nextCursor of the previous page as it is");
  return { at: Number(m[1]), id: m[2]! };
}

/** The condition "after the cursor's row" in newest-first order; none without a cursor. */
export function before(
  createdAt: SQLiteColumn,
  id: SQLiteColumn,
  cursor: string | undefined,
): SQL | undefined {
  const after = parseCursor(cursor);
  if (!after) return undefined;
  return or(lt(createdAt, after.at), and(eq(createdAt, after.at), lt(id, after.id)));
}

/** A page of `limit` rows out of the `limit + 1` read, and the cursor of the next page if there is one. */
export function pageOf<R extends { createdAt: number; id: string }>(
  rows: R[],
  limit: number,
): { page: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last ? `${last.createdAt}.${last.id}` : null };
}
