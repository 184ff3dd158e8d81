/**
 * The action and tool registry (`config/actions.yaml`): the server, not the agent, decides what
 * an action is. Stable API, used by the audit route, the integration proxy and the MCP gateway:
 *
 * - `classify({ action_type, tool_name, category })` → `Classification`: the registry entries
 *   that apply (the tool's and the action type's), the effective category (the registry's, or
 *   the claimed one when that is stricter; never looser), the amount path and risk note, and
 *   `registered: false` when neither the tool nor (for a call without a tool) the action type
 *   is classified: such an action follows `unknown_tool` in config/policies.yaml.
 * - `classifyIntegrationWrite(name, method, path, claimed?)`: the same for a proxy write, from
 *   the integration's routes (first match wins).
 * - `classificationFromEntry(key, entry?, claimed?)`: the same for one entry kept elsewhere.
 * - `lookupTool(name)` / `lookupActionType(name)`: one entry, own properties only.
 * - `checkInputs(classification, inputs)`: throws a 400 `invalid_inputs` naming the first field
 *   that fails an entry's `input_schema`.
 * - `readAmount(inputs, path)`: the amount at a dotted path, own properties only.
 * - `isStricter(a, b)`, `CATEGORY_ORDER`.
 *
 * An MCP tool is an entry of `tools` (its name is the MCP gateway's to choose, e.g.
 * `mcp:<server>/<tool>`); it is classified exactly like any other tool.
 */
import { type OutputUnit, Validator } from '@cfworker/json-schema';
import { CATEGORIES } from '../config/category.ts';
import { actionRegistry } from '../config/compiled.ts';
import { AppError } from '../errors/index.ts';
import type { ActionRegistry, RegistryEntry } from './registry-schema.ts';

export type { ActionRegistry, RegistryEntry, RegistryRoute } from './registry-schema.ts';
export { actionRegistry };

/** Least to most strict. A claimed category outside this list ranks strictest (gated as unknown). */
export const CATEGORY_ORDER = CATEGORIES;

function rank(category: string): number {
  const i = (CATEGORY_ORDER as readonly string[]).indexOf(category);
  return i === -1 ? CATEGORY_ORDER.length : i;
}

/** Whether category `a` is stricter than `b`. */
export function isStricter(a: string, b: string): boolean {
  return rank(a) > rank(b);
}

export interface MatchedEntry {
  /** Where it is in config/actions.yaml: `tools.bank.pay`, `integrations.mindex[1]`. */
  key: string;
  entry: RegistryEntry;
}

export interface Classification {
  /** False: not classified by the registry; `unknown_tool` applies. */
  registered: boolean;
  entries: MatchedEntry[];
  /** What the caller asked for (absent: none claimed). */
  claimed: string | null;
  /** What the policy evaluates and the ledger records as `category`. */
  effective: string;
  /** Which decided the effective category: `claimed`, or the entry key. */
  decided_by: string;
  amount_path: string;
  /** The entries' risk notes, for approvers. */
  risk: string | null;
}

const own = <T>(record: Record<string, T>, key: string): T | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined;

export function lookupTool(
  name: string,
  registry: ActionRegistry = actionRegistry,
): RegistryEntry | undefined {
  return own(registry.tools, name);
}

export function lookupActionType(
  name: string,
  registry: ActionRegistry = actionRegistry,
): RegistryEntry | undefined {
  return own(registry.actions, name);
}

/**
 * Classifies an action: the tool's entry (when a tool is named) and the action type's, the
 * strictest of them and of the claimed category deciding. Naming a registered action type with
 * an unregistered tool is unregistered: the tool is what runs.
 */
export function classify(
  facts: { action_type: string; tool_name?: string | null; category?: string | null },
  registry: ActionRegistry = actionRegistry,
): Classification {
  const entries: MatchedEntry[] = [];
  const tool = facts.tool_name ? lookupTool(facts.tool_name, registry) : undefined;
  if (tool) entries.push({ key: `tools.${facts.tool_name}`, entry: tool });
  const action = lookupActionType(facts.action_type, registry);
  if (action) entries.push({ key: `actions.${facts.action_type}`, entry: action });
  const registered = facts.tool_name ? tool !== undefined : action !== undefined;
  return decide(registered, entries, facts.category ?? null);
}

/** A write through the integration proxy, classified by the integration's routes. */
export function classifyIntegrationWrite(
  integration: string,
  method: string,
  path: string,
  claimed: string | null = null,
  registry: ActionRegistry = actionRegistry,
): Classification {
  const routes = own(registry.integrations, integration) ?? [];
  const index = routes.findIndex(
    (r) => (r.methods as readonly string[]).includes(method) && path.startsWith(r.prefix),
  );
  const route = routes[index];
  const entries = route ? [{ key: `integrations.${integration}[${index}]`, entry: route }] : [];
  return decide(route !== undefined, entries, claimed);
}

/**
 * A classification from an entry kept elsewhere (config/mcp.yaml's per-tool classification,
 * until those tools are entries of this registry); no entry: unregistered.
 */
export function classificationFromEntry(
  key: string,
  entry: RegistryEntry | undefined,
  claimed: string | null = null,
): Classification {
  return decide(entry !== undefined, entry ? [{ key, entry }] : [], claimed);
}

function decide(registered: boolean, entries: MatchedEntry[], claimed: string | null): Classification {
  let strictest: MatchedEntry | undefined;
  for (const m of entries) {
    if (!strictest || isStricter(m.entry.category, strictest.entry.category)) strictest = m;
  }
  const claimedWins = claimed !== null && (!strictest || isStricter(claimed, strictest.entry.category));
  const effective = claimedWins ? claimed : (strictest?.entry.category ?? claimed ?? 'unclassified');
  const risks = [...new Set(entries.map((m) => m.entry.risk).filter((r): r is string => !!r))];
  return {
    registered,
    entries,
    claimed,
    effective,
    decided_by: claimedWins || !strictest ? 'claimed' : strictest.key,
    amount_path:
      strictest?.entry.amount_path ?? entries.find((m) => m.entry.amount_path)?.entry.amount_path ?? 'amount',
    risk: risks.length ? risks.join(' ') : null,
  };
}

const validators = new Map<string, Validator>();

/** Inputs must satisfy every applicable entry's schema: else 400 naming the first bad field. */
export function checkInputs(classification: Classification, inputs: unknown): void {
  for (const { key, entry } of classification.entries) {
    if (!entry.input_schema) continue;
    let validator = validators.get(key);
    if (!validator) {
      validator = new Validator(entry.input_schema as never, '2020-12', true);
      validators.set(key, validator);
    }
    const result = validator.validate(inputs);
    if (!result.valid) {
      const problem = firstLeaf(result.errors);
      const field = pointerToPath(problem?.instanceLocation ?? '#');
      throw new AppError(
        400,
        'invalid_inputs',
        `inputs${field ? `.${field}` : ''} does not match the ${key} schema: ${problem?.error ?? 'invalid'}`,
        { param: `inputs${field ? `.${field}` : ''}` },
      );
    }
  }
}

/** The most specific error: the one at the deepest instance location. */
function firstLeaf(errors: OutputUnit[]): OutputUnit | undefined {
  let best: OutputUnit | undefined;
  for (const e of errors) {
    if (!best || e.instanceLocation.length > best.instanceLocation.length) best = e;
  }
  return best;
}

/** `#/payment/amount` → `payment.amount` (JSON Pointer unescaped). */
function pointerToPath(pointer: string): string {
  return pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** The value at a dotted path, walking own properties only (never `constructor`, `__proto__`). */
export function readAmount(inputs: unknown, path: string): unknown {
  let value: unknown = inputs;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
