/**
 * Whether two strings are equal, in time that depends on their lengths only, never on where they
 * first differ: for comparing a presented secret (key digest, MAC, CSRF or bridge token) with the
 * expected one. Lengths differing answers false at once: the lengths of digests, MACs and tokens
 * are public. Pure JS, so the same code runs on Workers, Node and Deno.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
