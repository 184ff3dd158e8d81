/**
 * What Postgres cannot store: `text` refuses NUL, `jsonb` refuses `\u0000` and unpaired UTF-16
 * surrogates. Such strings are valid JSON and valid UTF-8 on the wire, so without this check they
 * pass validation and fail in the INSERT as a 500; with it they are the caller's 400.
 */
const UNSTORABLE = /\u0000|\p{Cs}/u;

/** The redactor replaces containers this deep whole (shared/redact), losing the caller's data. */
export const MAX_JSON_DEPTH = 32;

export const NON_FINITE = 'numbers must be finite (1e400 and the like overflow to Infinity)';

export const UNSTORABLE_TEXT = 'must not contain NUL characters or unpaired UTF-16 surrogates';

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** Why a JSON value cannot be stored (and redacted) whole, or null when it can. */
export function unstorableJson(value: unknown, depth = 0): string | null {
  if (typeof value === 'string') return isStorableText(value) ? null : UNSTORABLE_TEXT;
  // JSON.parse reads 1e400 as Infinity, which JSON cannot write back (it would be stored as null).
  if (typeof value === 'number') return Number.isFinite(value) ? null : NON_FINITE;
  if (value === null || typeof value !== 'object') return null;
  if (depth >= MAX_JSON_DEPTH) return `must not be nested deeper than ${MAX_JSON_DEPTH} levels`;
  const entries = Array.isArray(value) ? value.map((v) => ['', v] as const) : Object.entries(value);
  for (const [key, item] of entries) {
    if (!isStorableText(key)) return `keys ${UNSTORABLE_TEXT}`;
    const problem = unstorableJson(item, depth + 1);
    if (problem) return problem;
  }
  return null;
}
