import type { Policy, PolicyGate } from '../config/index.ts';

export interface ActionFacts {
  category: string;
  action_type: string;
  tool_name?: string | null;
  agent_id: string;
  inputs: unknown;
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
  /** Which rule decided, for the ledger detail. */
  rule: string;
}

/**
 * Applies `config/policies.yaml`: the first matching rule, else the category's gate, else the
 * unknown-category gate (which by default requires approval: an unknown kind of action is not
 * assumed safe).
 */
export function evaluateGate(facts: ActionFacts, policy: Policy, approvalsEnabled: boolean): GateDecision {
  let gate: PolicyGate | undefined;
  let rule = 'unknown_category';
  policy.rules.some((candidate, index) => {
    const m = candidate.match;
    const hit =
      (!m.action_type || m.action_type.includes(facts.action_type)) &&
      (!m.tool_name || (facts.tool_name != null && m.tool_name.includes(facts.tool_name))) &&
      (!m.agent_id || m.agent_id.includes(facts.agent_id)) &&
      (!m.category || m.category.includes(facts.category));
    if (hit) {
      gate = candidate;
      rule = `rules[${index}]`;
    }
    return hit;
  });
  if (!gate) {
    const byCategory = policy.categories[facts.category as keyof Policy['categories']];
    gate = byCategory ?? policy.unknown_category;
    rule = byCategory ? `categories.${facts.category}` : 'unknown_category';
  }
  const required = needsApproval(gate.approval, facts.inputs);
  const approvers = gate.approvers ?? policy.defaults.approvers;
  return {
    required: required && approvalsEnabled,
    bypassed: required && !approvalsEnabled,
    quorum: gate.quorum ?? policy.defaults.quorum,
    approverRoles: approvers.roles,
    approverPrincipals: approvers.principals,
    expiresInSeconds: gate.expires_in_seconds ?? policy.defaults.expires_in_seconds,
    rule,
  };
}

function needsApproval(approval: PolicyGate['approval'], inputs: unknown): boolean {
  if (approval === 'never') return false;
  if (approval === 'always') return true;
  const amount = (inputs as { amount?: unknown } | null)?.amount;
  const value =
    typeof amount === 'number' ? amount : typeof amount === 'string' ? Number(amount) : Number.NaN;
  // An amount we cannot read is treated as over the threshold: fail closed.
  return Number.isNaN(value) || value > approval.amount_over;
}
