import { compileExtraKeys, type ExtraKeys, sensitiveKeyKind } from './redact-keys.ts';
import {
  alreadyRedacted,
  emailRule,
  isCardNumber,
  type RuleContext,
  type Span,
  type ValueRule,
  valueRules,
} from './redact-rules.ts';

export interface RedactOptions {
  /** Redact email addresses too (on for audit rows, off for logs). */
  emails?: boolean;
  /** Key names redacted on top of the built-in list, matched by words like the built-ins. */
  extraKeys?: string[];
  /** Containers at this depth are replaced whole. */
  maxDepth?: number;
  /** Longer strings are replaced whole: scanning them would cost too much, passing them is unsafe. */
  maxStringLength?: number;
  /** Values (of any kind) walked in one input; a container that does not fit is replaced whole. */
  maxNodes?: number;
}

export interface RedactResult<T = unknown> {
  value: T;
  /** Names of the rules that fired, deduplicated, in the order they first fired. */
  rules: string[];
}

const DEFAULTS = { maxDepth: 32, maxStringLength: 64 * 1024, maxNodes: 10_000 };

/** Web platform objects recognised by tag, so the check needs no global that a runtime may lack. */
const ENTRY_TAGS = new Set(['[object Headers]', '[object URLSearchParams]', '[object FormData]']);
const BINARY_TAGS = new Set(['[object Blob]', '[object File]', '[object ReadableStream]']);
/** No value rule matches fewer characters than `pwd=x`. */
const MIN_SCANNED_LENGTH = 5;

interface State {
  rules: Set<string>;
  emails: boolean;
  maxDepth: number;
  maxStringLength: number;
  maxNodes: number;
  extraKeys: ExtraKeys;
  nodes: number;
  /** Ancestors of the value being walked: a value met again among them is a cycle. */
  ancestors: WeakSet<object>;
}

function makeState(options: RedactOptions): State {
  return {
    rules: new Set(),
    emails: options.emails ?? false,
    maxDepth: options.maxDepth ?? DEFAULTS.maxDepth,
    maxStringLength: options.maxStringLength ?? DEFAULTS.maxStringLength,
    maxNodes: options.maxNodes ?? DEFAULTS.maxNodes,
    extraKeys: compileExtraKeys(options.extraKeys),
    nodes: 0,
    ancestors: new WeakSet(),
  };
}

/**
 * Returns a redacted copy of `input` (never mutating it): values under secret-looking keys are
 * replaced whole, secrets inside strings are replaced in place, and whatever is too deep, too
 * large, cyclic or unreadable is replaced rather than passed through. The result is plain data
 * (objects, arrays, strings, numbers, booleans, null) ready for `JSON.stringify`.
 */
export function redactSecrets<T = unknown>(input: unknown, options: RedactOptions = {}): RedactResult<T> {
  const state = makeState(options);
  const value = walk(input, 0, state);
  return { value: value as T, rules: [...state.rules] };
}

export function redactString(input: string, options: RedactOptions = {}): RedactResult<string> {
  const state = makeState(options);
  return { value: scrubString(String(input), state), rules: [...state.rules] };
}

/** Whether a value under this key is redacted whole, whatever it looks like. */
export function isSensitiveKey(key: string, extraKeys?: string[]): boolean {
  return sensitiveKeyKind(key, compileExtraKeys(extraKeys)) !== null;
}

function fire(state: State, rule: string): string {
  state.rules.add(rule);
  return `[REDACTED:${rule}]`;
}

function walk(value: unknown, depth: number, state: State): unknown {
  if (++state.nodes > state.maxNodes) return fire(state, 'too_many_values');
  switch (typeof value) {
    case 'string':
      return scrubString(value, state);
    case 'number':
      return scrubNumber(value, state);
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
  if (depth >= state.maxDepth) return fire(state, 'too_deep');
  const obj = value as object;
  if (state.ancestors.has(obj)) return fire(state, 'cycle');
  state.ancestors.add(obj);
  try {
    return walkObject(obj, depth, state);
  } catch {
    // Throwing getters, revoked proxies, toJSON that fails: what cannot be read is not passed on.
    return fire(state, 'unreadable');
  } finally {
    // Only ancestors count: a sub-object shared by two branches is not a cycle.
    state.ancestors.delete(obj);
  }
}

function walkObject(obj: object, depth: number, state: State): unknown {
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  if (obj instanceof Error) {
    const out: Record<string, unknown> = {
      name: scrubString(String(obj.name), state),
      message: scrubString(String(obj.message), state),
    };
    if (obj.cause !== undefined) out.cause = walk(obj.cause, depth + 1, state);
    return out;
  }
  const tag = Object.prototype.toString.call(obj);
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || BINARY_TAGS.has(tag))
    return fire(state, 'binary');
  if (Array.isArray(obj)) {
    if (!fits(obj.length, state)) return fire(state, 'too_many_values');
    if (isSecretPair(obj, state)) {
      state.nodes += 2;
      return [obj[0], fire(state, `key:${sensitiveKeyKind(obj[0] as string, state.extraKeys)}`)];
    }
    return obj.map((item) => walk(item, depth + 1, state));
  }
  if (obj instanceof Set) {
    if (!fits(obj.size, state)) return fire(state, 'too_many_values');
    return [...obj].map((item) => walk(item, depth + 1, state));
  }
  if (obj instanceof Map) {
    if (!fits(obj.size, state)) return fire(state, 'too_many_values');
    return walkEntries([...obj.entries()], depth, state);
  }
  if (ENTRY_TAGS.has(tag)) {
    const entries = takeEntries(obj as Iterable<unknown>, state);
    return entries ? walkEntries(entries, depth, state) : fire(state, 'too_many_values');
  }
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return walk(toJSON.call(obj), depth + 1, state);
  const entries = Object.entries(obj);
  if (!fits(entries.length, state)) return fire(state, 'too_many_values');
  return walkEntries(entries, depth, state);
}

/**
 * `[name, value]` with a secret-looking name is a header or env entry (`Array.from(headers)`,
 * `Object.entries(env)`): its value is redacted as it would be under that key.
 */
function isSecretPair(arr: unknown[], state: State): boolean {
  if (arr.length !== 2 || typeof arr[0] !== 'string') return false;
  const value = arr[1];
  return (
    (typeof value === 'string' || typeof value === 'number') &&
    value !== '' &&
    sensitiveKeyKind(arr[0], state.extraKeys) !== null
  );
}

/** Reads name/value pairs from `Headers`-like iterables, within the node budget. */
function takeEntries(obj: Iterable<unknown>, state: State): Array<[unknown, unknown]> | null {
  const out: Array<[unknown, unknown]> = [];
  for (const entry of obj) {
    if (!fits(out.length + 1, state)) return null;
    if (!Array.isArray(entry)) throw new TypeError('not an entry');
    out.push([entry[0], entry[1]]);
  }
  return out;
}

/** Whether a container of `size` items fits the node budget; if not it is replaced whole. */
function fits(size: number, state: State): boolean {
  return state.nodes + size <= state.maxNodes;
}

function walkEntries(
  entries: Array<[unknown, unknown]>,
  depth: number,
  state: State,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, item] of entries) {
    const key = typeof rawKey === 'string' ? rawKey : String(rawKey);
    const kind = sensitiveKeyKind(key, state.extraKeys);
    let redacted: unknown;
    // Empty values and booleans hold no secret, and `password: ''` or `has_token: true` are
    // worth seeing in a log.
    if (kind && item !== null && item !== undefined && item !== '' && typeof item !== 'boolean') {
      state.nodes++;
      redacted = fire(state, `key:${kind}`);
    } else {
      redacted = walk(item, depth + 1, state);
    }
    // Keys are caller data too (a map keyed by API key); `__proto__` must stay a plain property.
    Object.defineProperty(out, scrubString(key, state), {
      value: redacted,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** A card number stored as a number is still a card number. */
function scrubNumber(value: number, state: State): number | string {
  if (!Number.isSafeInteger(value) || value < 1e12) return value;
  return isCardNumber(String(value)) ? fire(state, 'credit_card') : value;
}

/** Every rule scans the original text; their spans are merged before anything is replaced. */
function scrubString(text: string, state: State): string {
  if (text.length > state.maxStringLength) return fire(state, 'too_large');
  if (text.length < MIN_SCANNED_LENGTH) return text;
  const ctx: RuleContext = { text, extraKeys: state.extraKeys };
  const found: Found[] = [];
  const rules = valueRules();
  for (let rank = 0; rank < rules.length; rank++) collect(ctx, rules[rank]!, rank, found);
  if (state.emails) collect(ctx, emailRule(), rules.length, found);
  if (found.length === 0) return text;
  return replaceMerged(text, found, state);
}

interface Found {
  start: number;
  end: number;
  /** Position of the rule in the table: the lowest (narrowest) names a merged span. */
  rank: number;
  rule: string;
}

function collect(ctx: RuleContext, rule: ValueRule, rank: number, found: Found[]): void {
  const { text } = ctx;
  if (rule.hint && !rule.hint(text)) return;
  const re = rule.pattern;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    const spans = rule.locate ? rule.locate(m, ctx) : defaultSpans(m);
    for (const [start, end] of spans) {
      if (end <= start || alreadyRedacted(text, start, end)) continue;
      found.push({ start, end, rank, rule: rule.name });
      if (end > re.lastIndex) re.lastIndex = end;
    }
    if (rule.rescan) re.lastIndex = m.index + 1;
  }
}

/**
 * Overlapping spans become one, covering all of them (failing closed) and named by the
 * narrowest rule: `sk-ant-...` is seen by both key rules and reported as `anthropic_key`, and
 * `api_key=<jwt>` as `jwt`.
 */
function replaceMerged(text: string, found: Found[], state: State): string {
  found.sort((a, b) => a.start - b.start || a.rank - b.rank);
  let out = '';
  let last = 0;
  let current: Found | undefined;
  const flush = (span: Found) => {
    out += text.slice(last, span.start) + fire(state, span.rule);
    last = span.end;
  };
  for (const span of found) {
    if (current && span.start < current.end) {
      if (span.end > current.end) current.end = span.end;
      if (span.rank < current.rank) {
        current.rank = span.rank;
        current.rule = span.rule;
      }
      continue;
    }
    if (current) flush(current);
    current = { ...span };
  }
  if (current) flush(current);
  return out + text.slice(last);
}

/** Without a `locate`, a rule replaces its `secret` group, or else the whole match. */
function defaultSpans(m: RegExpExecArray): readonly Span[] {
  const secret = m.indices?.groups?.secret;
  return [secret ?? [m.index, m.index + m[0].length]];
}
