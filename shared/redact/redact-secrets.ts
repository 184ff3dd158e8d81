import { EMAIL_RULE, isSensitiveKeyName, VALUE_RULES, type ValueRule } from './redact-rules.ts';

export interface RedactOptions {
  /** Redact email addresses too (on for audit rows, off for logs). */
  emails?: boolean;
  /** Key names redacted on top of the built-in list (matched case-insensitively, whole key). */
  extraKeys?: string[];
  /** Deeper values are replaced whole. */
  maxDepth?: number;
  /** Longer strings are replaced whole: scanning them would cost too much, passing them is unsafe. */
  maxStringLength?: number;
  /** More nodes (values) than this in one input: the rest are replaced. */
  maxNodes?: number;
}

export interface RedactResult<T = unknown> {
  value: T;
  /** Names of the rules that fired, deduplicated, in first-fired order. */
  rules: string[];
}

const DEFAULTS = { maxDepth: 32, maxStringLength: 64 * 1024, maxNodes: 10_000 };
const MARKER = /\[REDACTED:[a-z_:]+\]/g;

export const marker = (rule: string) => `[REDACTED:${rule}]`;

interface State {
  rules: Set<string>;
  options: Required<Omit<RedactOptions, 'extraKeys'>>;
  extraKeys: ReadonlySet<string>;
  nodes: number;
  seen: WeakSet<object>;
}

const extraKeyCache = new WeakMap<string[], ReadonlySet<string>>();
function extraKeySet(keys: string[] | undefined): ReadonlySet<string> {
  if (!keys || keys.length === 0) return new Set();
  let set = extraKeyCache.get(keys);
  if (!set) {
    set = new Set(keys.map((k) => k.toLowerCase()));
    extraKeyCache.set(keys, set);
  }
  return set;
}

function makeState(options: RedactOptions): State {
  return {
    rules: new Set(),
    options: {
      emails: options.emails ?? false,
      maxDepth: options.maxDepth ?? DEFAULTS.maxDepth,
      maxStringLength: options.maxStringLength ?? DEFAULTS.maxStringLength,
      maxNodes: options.maxNodes ?? DEFAULTS.maxNodes,
    },
    extraKeys: extraKeySet(options.extraKeys),
    nodes: 0,
    seen: new WeakSet(),
  };
}

/**
 * Returns a redacted copy of `input` (never mutating it): values under secret-looking keys are
 * replaced whole, secrets inside strings are replaced in place, and whatever is too deep, too
 * large or cyclic is replaced rather than passed through.
 */
export function redactSecrets<T = unknown>(input: unknown, options: RedactOptions = {}): RedactResult<T> {
  const state = makeState(options);
  const value = walk(input, 0, state);
  return { value: value as T, rules: [...state.rules] };
}

export function redactString(input: string, options: RedactOptions = {}): RedactResult<string> {
  const state = makeState(options);
  return { value: scrubString(input, state), rules: [...state.rules] };
}

export function isSensitiveKey(key: string, extraKeys?: string[]): boolean {
  return isSensitiveKeyName(key, extraKeySet(extraKeys));
}

function fire(state: State, rule: string): string {
  state.rules.add(rule);
  return marker(rule);
}

function walk(value: unknown, depth: number, state: State): unknown {
  if (++state.nodes > state.options.maxNodes) return fire(state, 'too_many_values');
  switch (typeof value) {
    case 'string':
      return scrubString(value, state);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return scrubString(value.toString(), state);
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (depth >= state.options.maxDepth) return fire(state, 'too_deep');
  const obj = value as object;
  if (state.seen.has(obj)) return fire(state, 'cycle');
  state.seen.add(obj);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (value instanceof Error) {
      return { name: value.name, message: scrubString(value.message, state) };
    }
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, state));
    if (value instanceof Map) {
      return walkEntries(
        [...value.entries()].map(([k, v]) => [String(k), v]),
        depth,
        state,
      );
    }
    if (value instanceof Set) return [...value].map((item) => walk(item, depth + 1, state));
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return fire(state, 'binary');
    return walkEntries(Object.entries(obj as Record<string, unknown>), depth, state);
  } finally {
    // A value seen twice but not in a cycle (a shared sub-object) is fine: only ancestors count.
    state.seen.delete(obj);
  }
}

function walkEntries(
  entries: Array<[string, unknown]>,
  depth: number,
  state: State,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    if (isSensitiveKeyName(key, state.extraKeys) && item !== null && item !== undefined && item !== '') {
      state.nodes++;
      out[key] = fire(state, `key:${keyRuleName(key)}`);
    } else {
      out[key] = walk(item, depth + 1, state);
    }
  }
  return out;
}

/** A short, closed-set rule name for a key match (never the raw key, which is caller data). */
function keyRuleName(key: string): string {
  const k = key.toLowerCase();
  if (k.includes('auth')) return 'authorization';
  if (k.includes('cookie')) return 'cookie';
  if (k.includes('private')) return 'private_key';
  if (k.includes('pass') || k.includes('pwd')) return 'password';
  if (k.includes('key')) return 'api_key';
  if (k.includes('token')) return 'token';
  if (k.includes('secret')) return 'secret';
  return 'custom';
}

function scrubString(text: string, state: State): string {
  if (text.length > state.options.maxStringLength) return fire(state, 'too_large');
  // Short strings of plain word characters cannot hold any secret we know.
  if (text.length < 8) return text;
  let out = text;
  for (const rule of VALUE_RULES) out = applyRule(out, rule, state);
  if (state.options.emails) out = applyRule(out, EMAIL_RULE, state);
  return out;
}

function applyRule(text: string, rule: ValueRule, state: State): string {
  if (rule.hint && !rule.hint(text)) return text;
  // Markers already in the text are protected from later, broader rules.
  const protectedRanges = rangesOf(text, MARKER);
  rule.pattern.lastIndex = 0;
  return text.replace(rule.pattern, (...args) => {
    const match = args[0] as string;
    const offset = args[args.length - 3] as number;
    const groups = args[args.length - 1] as Record<string, string | undefined> | undefined;
    if (overlaps(protectedRanges, offset, offset + match.length)) return match;
    if (rule.accept && !rule.accept(match)) return match;
    const secret = groups?.secret;
    if (secret === undefined) return fire(state, rule.name);
    if (secret.startsWith('[REDACTED:')) return match;
    const at = match.lastIndexOf(secret);
    return `${match.slice(0, at)}${fire(state, rule.name)}${match.slice(at + secret.length)}`;
  });
}

function rangesOf(text: string, pattern: RegExp): Array<[number, number]> {
  if (!text.includes('[REDACTED:')) return [];
  const ranges: Array<[number, number]> = [];
  pattern.lastIndex = 0;
  for (const m of text.matchAll(pattern)) ranges.push([m.index, m.index + m[0].length]);
  return ranges;
}

function overlaps(ranges: Array<[number, number]>, start: number, end: number): boolean {
  for (const [a, b] of ranges) if (start < b && end > a) return true;
  return false;
}
