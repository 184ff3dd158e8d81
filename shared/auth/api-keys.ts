import * as z from 'zod/mini';
import { randomBase64url } from '../crypto/base64url.ts';

export const roleSchema = z.enum(['agent', 'approver', 'admin']);
export type Role = z.infer<typeof roleSchema>;

export interface Principal {
  id: string;
  role: Role;
  /** Agent ids this key may record actions as, besides `id` (`npm run keys -- --agents a,b`). */
  agents?: readonly string[];
}

export interface KeyEntry extends Principal {
  /** Lower-case hex SHA-256 of the key: keys themselves are never stored. */
  hash: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** Principal and agent ids (as auth.api_keys checks). */
export const PRINCIPAL_ID = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * Parses `MAS_API_KEYS`: entries `<id>:<role>:<sha256-hex>[:<agent>|<agent>...]` separated by
 * commas or newlines; the optional last field lists the agent ids the key may act as.
 * Throws naming the entry's position, never its content.
 */
export function parseApiKeysSecret(secret: string | undefined): KeyEntry[] {
  if (!secret) return [];
  const entries: KeyEntry[] = [];
  const parts = secret
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter(Boolean);
  parts.forEach((part, index) => {
    const [id, role, hash, agentList, ...rest] = part.split(':');
    const parsedRole = roleSchema.safeParse(role);
    const agents = agentList === undefined ? [] : agentList.split('|');
    if (
      rest.length > 0 ||
      !agents.every((a) => PRINCIPAL_ID.test(a)) ||
      !id ||
      !PRINCIPAL_ID.test(id) ||
      !parsedRole.success ||
      !hash ||
      !HEX64.test(hash)
    ) {
      throw new Error(
        `MAS_API_KEYS entry #${index + 1} is not <id>:<agent|approver|admin>:<sha256 hex>[:<agent>|<agent>...]`,
      );
    }
    entries.push(
      agents.length ? { id, role: parsedRole.data, hash, agents } : { id, role: parsedRole.data, hash },
    );
  });
  return entries;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  let out = '';
  for (const b of new Uint8Array(digest)) out += b.toString(16).padStart(2, '0');
  return out;
}

/**
 * The entries' digests as 32-bit words, 8 per entry, decoded once per list (keysFromSecret keeps
 * one list per secret, so once per isolate). Comparing 64 hex characters per entry cost a
 * `charCodeAt` pair each, on strings split out of the secret and built by concatenation (not
 * flat): ~1 % of the isolate's time per chat request on workerd with four keys configured.
 */
const entryWords = new WeakMap<readonly KeyEntry[], { words: Int32Array; ok: boolean[] }>();
const presented = new Int32Array(8);

/** 0-15 for `0-9a-f`, -1 for anything else (upper case included: digests here are lower case). */
const nibble = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;

/** Decodes a 64-character lower-case hex digest into `out[at..at+8)`; false if it is not one. */
function hexWords(hex: string, out: Int32Array, at: number): boolean {
  if (hex.length !== 64) return false;
  let bad = 0;
  for (let w = 0; w < 8; w++) {
    let word = 0;
    for (let j = w * 8; j < w * 8 + 8; j++) {
      const n = nibble(hex.charCodeAt(j));
      bad |= n;
      word = (word << 4) | (n & 15);
    }
    out[at + w] = word;
  }
  return bad >= 0;
}

/**
 * Looks a key hash up among configured entries, touching every entry so timing says nothing
 * (the same XOR-and-OR over every word as constantTimeEqual, on the decoded digests). A hash
 * that is not 64 lower-case hex characters matches nothing, as a string comparison would.
 */
export function findKeyEntry(entries: readonly KeyEntry[], hash: string): KeyEntry | undefined {
  let decoded = entryWords.get(entries);
  if (!decoded) {
    const words = new Int32Array(entries.length * 8);
    // An entry made by hand with a digest that is not lower-case hex never matches.
    const ok = entries.map((e, i) => hexWords(e.hash, words, i * 8));
    decoded = { words, ok };
    entryWords.set(entries, decoded);
  }
  if (!hexWords(hash, presented, 0)) return undefined;
  const { words, ok } = decoded;
  let found: KeyEntry | undefined;
  for (let i = 0; i < entries.length; i++) {
    let diff = 0;
    for (let w = 0; w < 8; w++) diff |= words[i * 8 + w]! ^ presented[w]!;
    if (diff === 0 && ok[i] && found === undefined) found = entries[i];
  }
  return found;
}

/** What `npm run keys` makes (and so all `auth.api_keys` holds): `mas_` + 32 random bytes, base64url. */
const GENERATED_KEY = /^mas_[A-Za-z0-9_-]{43}$/;
/**
 * Any key we could hold: `mas_` and 16-128 base64url characters (`MAS_API_KEYS` may name the
 * digests of keys made by hand, e.g. in tests). Anything else is refused before any work.
 */
const WELL_FORMED_KEY = /^mas_[A-Za-z0-9_-]{16,128}$/;

/** Whether a presented key could be one of ours at all: checked before hashing or any look-up. */
export function isWellFormedKey(key: string): boolean {
  return WELL_FORMED_KEY.test(key);
}

/** Whether a key has the exact shape `npm run keys` gives: only those are looked up in Postgres. */
export function isGeneratedKey(key: string): boolean {
  return GENERATED_KEY.test(key);
}

/** A new random API key: `mas_` + 32 bytes base64url. */
export function generateApiKey(): string {
  return `mas_${randomBase64url(32)}`;
}
