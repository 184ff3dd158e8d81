/**
 * `npm run keys -- budget set --id X [--scope principal|agent|role] --daily-usd 5 --monthly-usd 100
 * --tpm 200000 --rpm 60`, `budget get --id X`, `budget clear --id X`, `budget list`: the budgets
 * of docs/LLM.md "Cost and budgets", written to governance.budgets as the admin API does.
 */

import { budgetLimitsSchema } from '../shared/config/schema.ts';
import type { Client } from '../shared/db/postgres.ts';
import {
  BUDGET_SCOPES,
  type BudgetScope,
  deleteBudget,
  listBudgets,
  putBudget,
} from '../shared/governance/budgets.ts';

export const BUDGET_OPTIONS = {
  scope: { type: 'string', default: 'principal' },
  'daily-usd': { type: 'string' },
  'monthly-usd': { type: 'string' },
  tpm: { type: 'string' },
  rpm: { type: 'string' },
} as const;

type Values = Partial<Record<'id' | 'scope' | 'daily-usd' | 'monthly-usd' | 'tpm' | 'rpm', string>>;

const USAGE =
  'usage: npm run keys -- budget set --id <id> [--scope principal|agent|role] [--daily-usd N] [--monthly-usd N] [--tpm N] [--rpm N] | get --id <id> | clear --id <id> | list';

export async function runBudgetCommand(
  client: Client,
  action: string | undefined,
  values: Values,
): Promise<void> {
  const scope = (values.scope ?? 'principal') as BudgetScope;
  if (!BUDGET_SCOPES.includes(scope)) throw new Error(`--scope must be one of ${BUDGET_SCOPES.join(', ')}`);
  if (action === 'list') {
    for (const row of await listBudgets(client)) console.log(formatRow(row));
    return;
  }
  if (!values.id) throw new Error(USAGE);
  if (action === 'set') {
    const number = (v: string | undefined) => (v === undefined ? undefined : v === 'none' ? null : Number(v));
    const parsed = budgetLimitsSchema.safeParse({
      daily_usd: number(values['daily-usd']),
      monthly_usd: number(values['monthly-usd']),
      tpm: number(values.tpm),
      rpm: number(values.rpm),
    });
    if (!parsed.success)
      throw new Error(
        `invalid limit: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
      );
    const row = await putBudget(client, scope, values.id, parsed.data, 'cli');
    console.log(`set ${formatRow(row)}`);
  } else if (action === 'get') {
    const row = (await listBudgets(client)).find((r) => r.scope === scope && r.id === values.id);
    console.log(
      row
        ? formatRow(row)
        : `no budget for ${scope} ${values.id} (the defaults in config/gateway.yaml apply)`,
    );
  } else if (action === 'clear') {
    console.log(
      (await deleteBudget(client, scope, values.id)) ? `cleared ${scope} ${values.id}` : 'no such budget',
    );
  } else {
    throw new Error(USAGE);
  }
}

function formatRow(row: Awaited<ReturnType<typeof listBudgets>>[number]): string {
  const show = (v: unknown) => (v === null ? '-' : String(Number(v)));
  return `${row.scope}\t${row.id}\tdaily_usd=${show(row.daily_usd)}\tmonthly_usd=${show(row.monthly_usd)}\ttpm=${show(row.tpm)}\trpm=${show(row.rpm)}`;
}
