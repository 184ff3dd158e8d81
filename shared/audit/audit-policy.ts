import type { Policy, PolicyGate } from '../config/index.ts';
import { readAmount } from '../registry/index.ts';

export interface ActionFacts {
  /** The effective category (the registry's, or a stricter claimed one). */
  category: string;
  action_type: string;
  tool_name?: string | null;
  /** The agent the action is recorded as (bound to the key). */
  agent_id: string;
  inputs: unknown;
  /** Classified by config/actions.yaml; false: `unknown_tool` is a floor. */
  registered: boolean;
  /** Where the amount is in `inputs` (the registry entry's `amount_path`). */
  amount_path?: string;
}

export interface GateDecision {
  /** The policy asks for a human decision. */
  required: boolean;
  /** Required by policy but switched off by APPROVAL_REQUIRED=false: recorded on the row. */
  bypassed: boolean;
  quorum: number;
  approverRoles: string[];
  approverPrincipals: string[];
  expiresInSeconds: number;
  /** Announce a still-pending approval again after this long (null: never). */
  escalateAfterSeconds: number | null;
  /** Who may also decide once escalated. */
  escalateTo: { roles: string[]; principals: string[] };
  /** Which rule decided, for the ledger detail and the approver. */
  rule: string;
}

/**
 * Applies `config/policies.yaml`: the first matching rule, else the category's gate, else the
 * unknown-category gate (by default approval: an unknown kind of action is not assumed safe).
 * An action the registry does not classify gets at least `unknown_tool` (approval by default).
 * Names from the request are looked up as own properties only.
 */
export function evaluateGate(facts: ActionFacts, policy: Policy, approvalsEnabled: boolean): GateDecision {
  let decided = byRulesAndCategory(facts, policy);
  if (!facts.registered) {
    const floor = { gate: policy.unknown_tool, rule: 'unknown_tool' };
    if (stricter(floor, decided, facts, policy)) decided = floor;
  }
  const { gate, rule } = decided;
  const required = needsApproval(gate.approval, facts.inputs, facts.amount_path ?? 'amount');
  const approvers = gate.approvers ?? policy.defaults.approvers;
  return {
    required: required && approvalsEnabled,
    bypassed: required && !approvalsEnabled,
    quorum: gate.quorum ?? policy.defaults.quorum,
    approverRoles: approvers.roles,
    approverPrincipals: approvers.principals,
    expiresInSeconds: gate.expires_in_seconds ?? policy.defaults.expires_in_seconds,
    escalateAfterSeconds: gate.escalate_after_seconds ?? null,
    escalateTo: { roles: gate.escalate_to?.roles ?? [], principals: gate.escalate_to?.principals ?? [] },
    rule,
  };
}

interface Decided {
  gate: PolicyGate;
  rule: string;
}

function byRulesAndCategory(facts: ActionFacts, policy: Policy): Decided {
  const index = policy.rules.findIndex((candidate) => {
    const m = candidate.match;
    return (
      (!m.action_type || m.action_type.includes(facts.action_type)) &&
      (!m.tool_name || (facts.tool_name != null && m.tool_name.includes(facts.tool_name))) &&
      (!m.agent_id || m.agent_id.includes(facts.agent_id)) &&
      (!m.category || m.category.includes(facts.category))
    );
  });
  const hit = policy.rules[index];
  if (hit) return { gate: hit, rule: `rules[${index}]` };
  const byCategory = Object.hasOwn(policy.categories, facts.category)
    ? policy.categories[facts.category as keyof Policy['categories']]
    : undefined;
  return byCategory
    ? { gate: byCategory, rule: `categories.${facts.category}` }
    : { gate: policy.unknown_category, rule: 'unknown_category' };
}

/** `a` asks more of a human than `b`: approval where `b` has none, or a larger quorum. */
function stricter(a: Decided, b: Decided, facts: ActionFacts, policy: Policy): boolean {
  const path = facts.amount_path ?? 'amount';
  const ra = needsApproval(a.gate.approval, facts.inputs, path);
  const rb = needsApproval(b.gate.approval, facts.inputs, path);
  if (ra !== rb) return ra;
  return ra && (a.gate.quorum ?? policy.defaults.quorum) > (b.gate.quorum ?? policy.defaults.quorum);
}

function needsApproval(approval: PolicyGate['approval'], inputs: unknown, amountPath: string): boolean {
  if (approval === 'never') return false;
  if (approval === 'always') return true;
  const amount = readAmount(inputs, amountPath);
  const value =
    typeof amount === 'number'
      ? amount
      : typeof amount === 'string' && amount.trim() !== ''
        ? Number(amount)
        : Number.NaN;
  // An amount we cannot read (or not a finite number) is treated as over the threshold: fail closed.
  return !Number.isFinite(value) || value > approval.amount_over;
}
