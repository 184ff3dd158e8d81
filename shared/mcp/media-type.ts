/** A Content-Type's media type without parameters; none for a joined duplicate (ambiguous). */
export function mediaType(header: string | null): string | undefined {
  const essence = (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return essence && !essence.includes(',') ? essence : undefined;
}

/**
 * Whether an Accept header admits `type`: exactly, as `major/*` or as `*\/*`, at a q above 0.
 * No header admits everything (RFC 9110).
 */
export function accepts(header: string | null, type: string): boolean {
  if (header === null || header.trim() === '') return true;
  const major = `${type.split('/', 1)[0]}/*`;
  return header.split(',').some((range) => {
    const [name = '', ...parameters] = range.split(';').map((s) => s.trim().toLowerCase());
    if (name !== type && name !== major && name !== '*/*') return false;
    return !parameters.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}
