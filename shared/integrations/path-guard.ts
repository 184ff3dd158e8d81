import { AppError } from '../errors/index.ts';

/**
 * Checks the caller's path (as received, still percent-encoded) before it is appended to the
 * integration's base URL. The upstream host is never the caller's to choose: anything that could
 * change the host or escape the allowed prefixes is refused (no normalising it into shape).
 */
export function guardPath(rawPath: string, allowedPrefixes: readonly string[]): string {
  const refuse = (why: string) =>
    new AppError(403, 'path_not_allowed', `This path is not allowed (${why}).`, { param: 'path' });
  if (!rawPath.startsWith('/')) throw refuse('must start with /');
  if (rawPath.length > 2048) throw refuse('too long');
  // Encoded separators, dots, backslashes, NUL and percent-encoded percent signs: double decoding
  // or a lenient upstream could turn them into traversal.
  if (/%(2f|5c|2e|25|[01][0-9a-f]|7f)/i.test(rawPath))
    throw refuse('encoded separator, dot or control character');
  if (/[\\\s\x00-\x1f\x7f@]/.test(rawPath)) throw refuse('backslash, space, control character or @');
  if (rawPath.includes('//')) throw refuse('empty segment');
  const segments = rawPath.split('/');
  if (segments.some((s) => s === '.' || s === '..')) throw refuse('dot segment');
  if (/^\/[a-z][a-z0-9+.-]*:/i.test(rawPath)) throw refuse('absolute URL');
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw refuse('malformed percent-encoding');
  }
  if (decoded.includes('..') || decoded.includes('\\')) throw refuse('dot segment');
  if (
    !allowedPrefixes.some(
      (p) =>
        rawPath === p.replace(/\/$/, '') ||
        rawPath.startsWith(p.endsWith('/') ? p : `${p}/`) ||
        rawPath === p,
    )
  ) {
    throw refuse('outside the allowed prefixes');
  }
  return rawPath;
}

/** The query string as received, refused if it carries CR/LF or is absurdly long. */
export function guardQuery(search: string): string {
  if (search.length > 4096 || /[\r\n]|%0[ad]/i.test(search)) {
    throw new AppError(403, 'path_not_allowed', 'This query string is not allowed.', { param: 'query' });
  }
  return search;
}
