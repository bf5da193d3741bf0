import { isUuid } from './uuid.ts';

/**
 * Keyset pagination over (createdAt, id), newest first: a cursor is the last row's position,
 * opaque to callers (base64url). A cursor we did not issue decodes to undefined and never reaches
 * a query.
 */
export interface PageCursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(row: PageCursor): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): PageCursor | undefined {
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const date = new Date(createdAt ?? '');
  if (rest.length || !id || !isUuid(id) || Number.isNaN(date.getTime()) || date.toISOString() !== createdAt)
    return undefined;
  return { createdAt: date, id };
}

/** The rows after a cursor, newest first: a Prisma `where` fragment. */
export const after = (cursor: PageCursor | undefined) =>
  cursor
    ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] }
    : {};
