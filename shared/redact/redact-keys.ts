/**
 * Key-name rules. A key is split into lower-case words (`clientSecret`, `X-API-Key`, `DB_PASSWORD`,
 * `access.token` all split the same way) and matched by word or word pair, never by substring: so
 * `access_token` is secret while `tokens`, `max_tokens` and `tokenizer` are other words and survive.
 */

/** The kind of a sensitive key, reported as `key:<kind>`. A closed set: never the raw key. */
export type KeyKind =
  | 'authorization'
  | 'password'
  | 'secret'
  | 'token'
  | 'cookie'
  | 'api_key'
  | 'private_key'
  | 'credential'
  | 'custom';

export const KEY_KINDS: readonly KeyKind[] = [
  'authorization',
  'password',
  'secret',
  'token',
  'cookie',
  'api_key',
  'private_key',
  'credential',
  'custom',
];

/** Any one of these words anywhere in the key. */
const WORDS = new Map<string, KeyKind>([
  ['authorization', 'authorization'],
  ['password', 'password'],
  ['passwords', 'password'],
  ['passwd', 'password'],
  ['pwd', 'password'],
  ['passphrase', 'password'],
  ['secret', 'secret'],
  ['secrets', 'secret'],
  ['token', 'token'],
  ['jwt', 'token'],
  ['cookie', 'cookie'],
  ['cookies', 'cookie'],
  ['apikey', 'api_key'],
  ['apikeys', 'api_key'],
  ['credential', 'credential'],
  ['credentials', 'credential'],
]);

/**
 * Only as the last word: `smtp_pass` and Node's `auth: 'user:password'` are secrets, while
 * `pass_rate` and `auth_method` are not.
 */
const LAST_WORDS = new Map<string, KeyKind>([
  ['pass', 'password'],
  ['auth', 'authorization'],
]);

/** Two adjacent words; `key` alone is too common (cache key, idempotency key) to count. */
const PAIRS = new Map<string, KeyKind>([
  ['api key', 'api_key'],
  ['api keys', 'api_key'],
  ['access key', 'api_key'],
  ['private key', 'private_key'],
  ['private keys', 'private_key'],
  ['signing key', 'private_key'],
  ['encryption key', 'private_key'],
  ['master key', 'private_key'],
  ['hmac key', 'private_key'],
  ['secret key', 'secret'],
  ['set cookie', 'cookie'],
]);

/**
 * Words that, right after `token`, make it a count rather than a credential: Gemini's
 * `promptTokenCount`, `token_limit`, `tokenBudget` carry numbers the gateway wants in its logs.
 */
const TOKEN_METRIC_WORDS = new Set(['count', 'counts', 'limit', 'limits', 'budget', 'usage']);

const LOWER_UPPER = /([a-z0-9])([A-Z])/g;
const ACRONYM_WORD = /([A-Z]+)([A-Z][a-z])/g;
const SEPARATORS = /[^a-z0-9]+/;

/** `X-API-Key`, `apiKey`, `APIKey`, `api_key` → `['x', 'api', 'key']`... */
export function keyWords(key: string): string[] {
  return key
    .replace(LOWER_UPPER, '$1 $2')
    .replace(ACRONYM_WORD, '$1 $2')
    .toLowerCase()
    .split(SEPARATORS)
    .filter(Boolean);
}

/** Extra key names, pre-split into words; a key matches when it contains them as a run of words. */
export type ExtraKeys = readonly (readonly string[])[];

const extraCache = new WeakMap<readonly string[], ExtraKeys>();

export function compileExtraKeys(keys: readonly string[] | undefined): ExtraKeys {
  if (!keys || keys.length === 0) return [];
  let compiled = extraCache.get(keys);
  if (!compiled) {
    compiled = keys.map(keyWords).filter((words) => words.length > 0);
    extraCache.set(keys, compiled);
  }
  return compiled;
}

/** The kind of secret a key holds, or null when its value is not secret by name. */
export function sensitiveKeyKind(key: string, extra: ExtraKeys): KeyKind | null {
  const words = keyWords(key);
  const last = words.length - 1;
  for (let i = 0; i <= last; i++) {
    const word = words[i]!;
    const kind = WORDS.get(word);
    if (kind && !(word === 'token' && i < last && TOKEN_METRIC_WORDS.has(words[i + 1]!))) return kind;
    if (i > 0) {
      const pair = PAIRS.get(`${words[i - 1]} ${word}`);
      if (pair) return pair;
    }
  }
  const lastKind = LAST_WORDS.get(words[last] ?? '');
  if (lastKind) return lastKind;
  for (const run of extra) if (containsRun(words, run)) return 'custom';
  return null;
}

function containsRun(words: readonly string[], run: readonly string[]): boolean {
  outer: for (let i = 0; i + run.length <= words.length; i++) {
    for (let j = 0; j < run.length; j++) if (words[i + j] !== run[j]) continue outer;
    return true;
  }
  return false;
}
