import { base64urlDecode, base64urlEncode } from '../crypto/base64url.ts';
import { AppError } from '../errors/index.ts';

/** An opaque keyset cursor over (created_at, uuid), as the list endpoints page by (base64url). */
export function encodeCursor(at: Date, id: string): string {
  return base64urlEncode(`${new Date(at).toISOString()}|${id}`);
}

/** Back to (timestamp, uuid); anything this API did not hand out is a 400. */
export function decodeCursor(cursor: string): [string, string] {
  try {
    const bytes = base64urlDecode(cursor);
    const [at, id] = new TextDecoder().decode(bytes).split('|');
    if (at && id && !Number.isNaN(Date.parse(at)) && /^[0-9a-f-]{36}$/.test(id)) return [at, id];
  } catch {
    // fall through
  }
  throw new AppError(400, 'invalid_cursor', 'cursor is not one this API returned.', { param: 'cursor' });
}
