import { lazy } from '../http/lazy.ts';
import { type ExtraKeys, KEY_KINDS, type KeyKind, sensitiveKeyKind } from './redact-keys.ts';

/** A `[start, end)` range of the scanned text to replace with a marker. */
export type Span = readonly [start: number, end: number];

export interface RuleContext {
  text: string;
  extraKeys: ExtraKeys;
  /** Last end found per stop set, reused while rescanning the same value. */
  ends?: Map<RegExp, Span>;
}

/** One value rule, applied to every string. */
export interface ValueRule {
  readonly name: string;
  /**
   * Global regex, compiled once. Written so that no input makes it backtrack more than a bounded
   * amount per position: no nested unbounded quantifiers over overlapping classes.
   */
  readonly pattern: RegExp;
  /** Cheap substring test that must pass before the regex runs at all. */
  readonly hint?: (text: string) => boolean;
  /**
   * What to replace for one match (none: keep it). Default: the `secret` group (the regex then
   * needs the `d` flag), else the whole match.
   */
  readonly locate?: (match: RegExpExecArray, ctx: RuleContext) => readonly Span[];
  /**
   * Rescan from just after the start of every match: `https://x/?password=...` first matches as
   * the key `https`, `api_key= password: x` as `api_key`, and the key inside must still be seen.
   */
  readonly rescan?: boolean;
}

const WORD_CHAR = /^[A-Za-z_]$/;
const has = (needle: string) => (text: string) => text.includes(needle);
const hasAny =
  (...needles: string[]) =>
  (text: string) =>
    needles.some((n) => text.includes(n));
const hasLower = (needle: string) => (text: string) => text.toLowerCase().includes(needle);

/** Key kinds whose unquoted value after `key:` runs to the end of the line (headers, YAML). */
const LINE_VALUE_KINDS = new Set<KeyKind>(['authorization', 'cookie', 'password']);
/**
 * Values are captured up to this length so that each rescan inside a value costs a bounded amount; a value
 * that reaches it is then extended by hand to where it really ends.
 */
const VALUE_CAP = 256;
const STOP_LINE = /[\r\n"'<>]/g;
const STOP_DQ = /["\r\n]/g;
const STOP_SQ = /['\r\n]/g;
const STOP_BARE = /[\s"'\\,;&<>]/g;

/**
 * Rescans inside one long value all ask where it ends; the answer is remembered per stop set,
 * so asking again is a lookup rather than another scan to the end of the text.
 */
function endFrom(ctx: RuleContext, from: number, stop: RegExp): number {
  const cached = ctx.ends?.get(stop);
  if (cached && from >= cached[0] && from <= cached[1]) return cached[1];
  stop.lastIndex = from;
  const found = stop.exec(ctx.text);
  const end = found ? found.index : ctx.text.length;
  ctx.ends ??= new Map();
  ctx.ends.set(stop, [from, end]);
  return end;
}

function extendCapped(span: Span, ctx: RuleContext, stop: RegExp): Span {
  return span[1] - span[0] < VALUE_CAP ? span : [span[0], endFrom(ctx, span[1], stop)];
}

/**
 * `key=value`, `key: value`, `"key":"value"`, `--key=value`: the key is judged by the same word
 * rules as object keys (so `DB_PASSWORD=`, `X-API-Key:`, `aws_secret_access_key =` all count and
 * `max_tokens=` does not). An optional auth scheme (`Basic`, `Bearer`...) is kept.
 */
function locateCredential(m: RegExpExecArray, ctx: RuleContext): readonly Span[] {
  const groups = m.groups;
  const indices = m.indices?.groups;
  if (!groups?.key || !indices) return [];
  const kind = sensitiveKeyKind(groups.key, ctx.extraKeys);
  if (!kind) return [];
  if (indices.dq) return [extendCapped(indices.dq, ctx, STOP_DQ)];
  if (indices.sq) return [extendCapped(indices.sq, ctx, STOP_SQ)];
  const bare = indices.bare;
  if (!bare) return [];
  if (alreadyRedacted(ctx.text, bare[0], bare[1])) return [];
  if (groups.sep === ':' && LINE_VALUE_KINDS.has(kind)) return [[bare[0], endFrom(ctx, bare[1], STOP_LINE)]];
  return [extendCapped(bare, ctx, STOP_BARE)];
}

/**
 * Card numbers are found as runs of digit groups; within a run, every window of whole groups
 * holding 13–19 digits is tried, so `4111 1111 1111 1111 12/29` (expiry glued on) is still caught
 * while one unbroken 20-digit id is not a card. Split windows must be shaped like printed cards
 * (groups of 3–6, the last one 1–6), so `123456789 123456789` is two numbers, not a card.
 */
function locateCards(m: RegExpExecArray, ctx: RuleContext): readonly Span[] {
  const run = m[0];
  const groups: Array<{ start: number; end: number }> = [];
  for (let i = 0; i < run.length; ) {
    let j = i;
    while (j < run.length && run.charCodeAt(j) >= 48 && run.charCodeAt(j) <= 57) j++;
    groups.push({ start: i, end: j });
    i = j + 1;
  }
  // Digits running into letters are the start of a hex id or a word, not a card.
  if (WORD_CHAR.test(ctx.text.charAt(m.index + run.length))) groups.pop();
  const spans: Span[] = [];
  for (let g = 0; g < groups.length; ) {
    let digits = '';
    let best = -1;
    for (let h = g; h < groups.length; h++) {
      const group = groups[h]!;
      const size = group.end - group.start;
      digits += run.slice(group.start, group.end);
      if (digits.length > 19) break;
      if (h > g && size > 6) break;
      if (digits.length >= 13 && isCardNumber(digits)) best = h;
      if (size < 3 || size > 6) break;
    }
    if (best >= 0) {
      spans.push([m.index + groups[g]!.start, m.index + groups[best]!.end]);
      g = best + 1;
      continue;
    }
    // A card starts a run or follows a space; never mid-way through dashed ids such as UUIDs.
    do g++;
    while (g < groups.length && run[groups[g]!.start - 1] !== ' ');
  }
  return spans;
}

/**
 * Value rules, narrowest first. Every rule scans the original string; overlapping finds are
 * merged into one replacement named by the earliest rule here, so `sk-ant-...` is reported as
 * `anthropic_key` (not `openai_key`), a JWT after `Bearer ` as `jwt`, and a key caught by its
 * format inside `api_key=...` by that format, while a broad rule matching the wrong thing
 * (`bearer password: x`) cannot hide a secret from another. Distinctive prefixes (`sk-ant-`,
 * `AIza`, `eyJ`...) match even glued to other text, failing closed; `sk-` alone needs a
 * non-alphanumeric before it, or `task-...` slugs would be eaten. Built on first use, as are
 * `emailRule` and the marker pattern: a new isolate whose first requests log nothing (LOG_LEVEL
 * warn, a quiet /health) builds no rule table at start.
 */
export const valueRules = lazy((): readonly ValueRule[] => [
  {
    name: 'private_key',
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    hint: has('PRIVATE KEY'),
  },
  { name: 'anthropic_key', pattern: /sk-ant-[A-Za-z0-9_-]{20,}/g, hint: has('sk-ant-') },
  { name: 'openai_key', pattern: /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}/g, hint: has('sk-') },
  {
    name: 'stripe_key',
    pattern: /(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}/g,
    hint: hasAny('_live_', '_test_', 'whsec_'),
  },
  {
    name: 'github_token',
    pattern: /gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}/g,
    hint: (t) => t.includes('_') && (t.includes('gh') || t.includes('github_pat_')),
  },
  {
    name: 'slack_token',
    pattern: /xox[abeposr]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}/g,
    hint: hasAny('xox', 'xapp-'),
  },
  {
    name: 'slack_webhook',
    pattern: /hooks\.slack\.com\/(?:services|workflows|triggers)\/(?<secret>[A-Za-z0-9_/-]{10,})/dg,
    hint: has('hooks.slack.com/'),
  },
  { name: 'google_api_key', pattern: /AIza[0-9A-Za-z_-]{35}/g, hint: has('AIza') },
  { name: 'google_oauth_token', pattern: /ya29\.[0-9A-Za-z_-]{20,}/g, hint: has('ya29.') },
  { name: 'huggingface_token', pattern: /(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}/g, hint: has('hf_') },
  { name: 'aws_access_key', pattern: /(?:AKIA|ASIA)[A-Z0-9]{16}/g, hint: hasAny('AKIA', 'ASIA') },
  {
    // Azure Storage / Service Bus / Event Hubs connection strings: the key parts, whatever the
    // case, up to the next `;` or quote. (`AccountKey` is not a secret-looking word on its own.)
    name: 'azure_connection_string',
    pattern:
      /(?<![A-Za-z0-9])(?:AccountKey|SharedAccessKey|SharedAccessSignature)[ \t]*=[ \t]*(?<secret>[^;"'\s]{1,1024})/dgi,
    hint: (t) => /accountkey|sharedaccess/i.test(t),
  },
  {
    // Azure SAS tokens in URLs: the signature parameter.
    name: 'azure_sas_signature',
    pattern: /[?&]sig=(?<secret>[A-Za-z0-9%+/=_-]{16,})/dg,
    hint: has('sig='),
  },
  { name: 'gitlab_token', pattern: /glpat-[A-Za-z0-9_-]{20,}/g, hint: has('glpat-') },
  { name: 'npm_token', pattern: /(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}/g, hint: has('npm_') },
  { name: 'sendgrid_key', pattern: /SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/g, hint: has('SG.') },
  { name: 'digitalocean_token', pattern: /do[opr]_v1_[a-f0-9]{64}/g, hint: has('_v1_') },
  {
    name: 'jwt',
    pattern: /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+){0,2}/g,
    hint: has('eyJ'),
  },
  {
    name: 'bearer_token',
    // Wider than RFC 6750's b64token (opaque tokens hold `!` too), but punctuation that ends a
    // word in prose ends the token, and so does another `bearer `: `bearer the.Bearer <token>`
    // must not swallow the real keyword and leave its token behind.
    pattern: /\bbearer\s+(?<secret>(?:(?!bearer\s)[^\s"'`<>,;|()[\]{}]){8,})/dgi,
    hint: hasLower('bearer'),
  },
  {
    name: 'url_password',
    // Greedy up to the last `@` of the authority, so a password holding `@` goes whole.
    pattern: /\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@?#]{0,128}:(?<secret>[^\s/?#]{1,256})@/dgi,
    hint: (t) => t.includes('://') && t.includes('@'),
  },
  {
    name: 'credit_card',
    // Not after a letter (hex ids), a dash (UUIDs) or `digit.` (decimals).
    pattern: /(?<![A-Za-z0-9_-]|\d\.)\d(?:[ -]?\d){12,}/g,
    locate: locateCards,
  },
  {
    name: 'credential_param',
    pattern:
      /(?<![A-Za-z0-9_])(?<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?:\\?["'])?[ \t]{0,8}(?<sep>[=:])[ \t]{0,8}(?:\\?"(?<dq>(?:[^"\\\r\n]|\\(?!")){1,256})|\\?'(?<sq>[^'\\\r\n]{1,256})|(?:(?:basic|bearer|token|digest)[ \t]+)?(?<bare>[^\s"'\\,;&<>]{1,256}))/dgi,
    hint: (t) => t.includes('=') || t.includes(':'),
    locate: locateCredential,
    rescan: true,
  },
]);

export const emailRule = lazy(
  (): ValueRule => ({
    name: 'email',
    // Not the `password@host` of `scheme://user:password@host`: that is `url_password`'s.
    pattern:
      /(?<![A-Za-z0-9._%+-])(?<!:\/\/[^\s/@:]{0,128}:)[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b/g,
    hint: has('@'),
  }),
);

/** Rules that replace a value whole because it could not be inspected safely. */
export const FAIL_CLOSED_RULES = [
  'too_deep',
  'too_large',
  'too_many_values',
  'cycle',
  'binary',
  'unreadable',
];

/**
 * Only markers this module writes count as redacted; a look-alike typed by a caller
 * (`[REDACTED:hunter2]`) is scanned like any other text.
 */
const marker = lazy(
  () =>
    new RegExp(
      `\\[REDACTED:(?:${[
        ...new Set([...valueRules().map((r) => r.name), emailRule().name]),
        ...FAIL_CLOSED_RULES,
        ...KEY_KINDS.map((k) => `key:${k}`),
      ].join('|')})\\]`,
      'g',
    ),
);
const ALNUM = /[A-Za-z0-9]/;

/**
 * A span holding markers and nothing but punctuation around them was redacted before: it is
 * left as is, so redacting twice changes nothing more.
 */
export function alreadyRedacted(text: string, start: number, end: number): boolean {
  const piece = text.slice(start, end);
  if (!piece.includes('[REDACTED:')) return false;
  return !ALNUM.test(piece.replace(marker(), ''));
}

/**
 * Card numbers start with 2–6 (Mastercard 2-series, Amex/Diners/JCB, Visa, Mastercard,
 * Discover/UnionPay). Excluding 0 and 1 spares millisecond timestamps and most order ids, which
 * would otherwise pass Luhn one time in ten.
 */
export function isCardNumber(digits: string): boolean {
  const first = digits.charCodeAt(0);
  return first >= 50 && first <= 54 && luhnValid(digits);
}

const CARD_DIGITS = /^\d{13,19}$/;

/** Luhn checksum over 13–19 digits. */
export function luhnValid(digits: string): boolean {
  if (!CARD_DIGITS.test(digits)) return false;
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
