/** One value rule. */
export interface ValueRule {
  name: string;
  /** Global regex; group `secret` (when present) is the part replaced, else the whole match. */
  pattern: RegExp;
  /** Cheap substring test that must pass before the regex runs. */
  hint?: (text: string) => boolean;
  /** Extra check on the match (e.g. Luhn for card numbers). */
  accept?: (match: string) => boolean;
}

const lower = (needle: string) => (text: string) => text.toLowerCase().includes(needle);
const has = (needle: string) => (text: string) => text.includes(needle);

/**
 * Value rules, narrowest first. Prefixes that are distinctive (`eyJ`, `AIza`, `sk-ant-`...) match
 * even glued to a word, failing closed; `sk-` alone needs a non-alphanumeric before it, or
 * `task-...` slugs would be eaten. A string is scanned by each rule in this order, and text already
 * replaced by a `[REDACTED:...]` marker is never matched again, so `sk-ant-...` is reported as
 * `anthropic_key`, not `openai_key`, and a JWT inside `Bearer <jwt>` as `jwt`.
 */
export const VALUE_RULES: readonly ValueRule[] = [
  {
    name: 'private_key',
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g,
    hint: has('PRIVATE KEY-----'),
  },
  { name: 'anthropic_key', pattern: /sk-ant-[A-Za-z0-9_-]{20,}/g, hint: has('sk-ant-') },
  {
    name: 'openai_key',
    pattern: /(?<![A-Za-z0-9])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g,
    hint: has('sk-'),
  },
  { name: 'stripe_key', pattern: /(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g, hint: has('_live_') },
  { name: 'stripe_key', pattern: /(?:sk|rk)_test_[A-Za-z0-9]{16,}/g, hint: has('_test_') },
  {
    name: 'github_token',
    pattern: /(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/g,
    hint: (t) => t.includes('gh') || t.includes('github_pat_'),
  },
  { name: 'slack_token', pattern: /xox[abposr]-[A-Za-z0-9-]{10,}/g, hint: has('xox') },
  { name: 'google_api_key', pattern: /AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g, hint: has('AIza') },
  {
    name: 'aws_access_key',
    pattern: /(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g,
    hint: (t) => t.includes('AKIA') || t.includes('ASIA'),
  },
  {
    name: 'jwt',
    pattern: /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}/g,
    hint: has('eyJ'),
  },
  {
    name: 'bearer_token',
    pattern: /\b[Bb]earer\s+(?<secret>[^\s"'<>,;]{8,})/g,
    hint: lower('bearer'),
  },
  {
    name: 'url_password',
    pattern: /\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@?#]{0,128}:(?<secret>[^\s@/?#]{1,256})@/gi,
    hint: has('://'),
  },
  {
    name: 'credential_param',
    pattern:
      /\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret|password|passwd|pwd|secret|token)\s*[=:]\s*"?(?<secret>[^\s"&,;]{6,})/gi,
    hint: (t) => t.includes('=') || t.includes(':'),
  },
  {
    name: 'credit_card',
    pattern: /\b(?:\d[ -]?){12,18}\d\b/g,
    accept: (m) => luhnValid(m.replace(/[ -]/g, '')),
  },
];

export const EMAIL_RULE: ValueRule = {
  name: 'email',
  pattern: /\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}\b/g,
  hint: has('@'),
};

/** Luhn checksum, so order numbers and timestamps of card length survive. */
export function luhnValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Key names whose values are always secret. Keys are split into lower-case words
 * (`clientSecret`, `x-api-key`, `DB_PASSWORD` → words), and matched by word or word pair, so
 * `tokens`, `max_tokens` and `tokenizer` are not matched while `access_token` is.
 */
const SECRET_WORDS = new Set([
  'authorization',
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'cookie',
  'apikey',
  'passphrase',
  'credential',
  'credentials',
]);
const SECRET_PAIRS = new Set([
  'api key',
  'private key',
  'client secret',
  'set cookie',
  'access key',
  'secret key',
  'session token',
]);

export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSensitiveKeyName(key: string, extra: ReadonlySet<string>): boolean {
  const normalized = key.toLowerCase();
  if (extra.has(normalized)) return true;
  const words = keyWords(key);
  for (let i = 0; i < words.length; i++) {
    if (SECRET_WORDS.has(words[i]!)) return true;
    if (i > 0 && SECRET_PAIRS.has(`${words[i - 1]} ${words[i]}`)) return true;
  }
  return false;
}
