import { AppError } from '../errors/index.ts';

/** An opaque keyset cursor over (created_at, uuid), as the list endpoints page by. */
export function encodeCursor(at: Date, id: string): string {
  return btoa(`${new Date(at).toISOString()}|${id}`).replace(/=+$/, '');
}

/** Back to (timestamp, uuid); anything this API did not hand out is a 400. */
export function decodeCursor(cursor: string): [string, string] {
  try {
    const [at, id] = atob(cursor).split('|');
    if (at && id && !Number.isNaN(Date.parse(at)) && /^[0-9a-f-]{36}$/.test(id)) return [at, id];
  } catch {
    // fall through
  }
  throw new AppError(400, 'invalid_cursor', 'cursor is not one this API returned.', { param: 'cursor' });
}
