/**
 * `npm run keys -- create --role approver --id alice` prints a new key once.
 * `npm run keys -- create --role agent --id planner-1 --agents billing-agent,ops-agent`: the key
 * may record actions as planner-1 or as one of those agents (anything else is 403 agent_mismatch).
 * `npm run keys -- list` and `npm run keys -- revoke --id alice`.
 * `npm run keys -- budget set --id alice --daily-usd 5` (local/budget-command.ts).
 * `npm run keys -- ledger-keygen [--name <origin>]` prints a new ledger signing key (for
 * LEDGER_SIGNING_KEY) and its public key; nothing is stored and no database is needed.
 */
import { parseArgs } from 'node:util';
import { BUDGET_OPTIONS, runBudgetCommand } from './budget-command.ts';
import { loadDotEnv } from './dotenv.ts';
import { createApiKey, listApiKeys, revokeApiKey } from './keys.ts';
import { applyMigrations, MIGRATIONS_DIR, readMigrations, resolveLocalDatabase } from './local-database.ts';
import { connectNodePostgres } from './node-postgres.ts';

loadDotEnv();
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    id: { type: 'string' },
    role: { type: 'string', default: 'agent' },
    agents: { type: 'string' },
    name: { type: 'string', default: 'mas-functions/ledger' },
    ...BUDGET_OPTIONS,
  },
});
const command = positionals[0];

if (command === 'ledger-keygen') {
  const { generateSignerKey } = await import('../shared/audit/ledger-note.ts');
  const key = await generateSignerKey(values.name ?? 'mas-functions/ledger');
  console.log('LEDGER_SIGNING_KEY (secret: set it with `wrangler secret put LEDGER_SIGNING_KEY`):');
  console.log(key.signer);
  console.log('public key (give it to verifiers; GET /v1/audit/public-key serves it too):');
  console.log(key.verifier);
  process.exit(0);
}

const database = await resolveLocalDatabase();
const db = await connectNodePostgres(database.databaseUrl).catch((err: Error) => {
  console.error(`keys: ${err.message}`);
  process.exit(1);
});
try {
  await applyMigrations(db.client, readMigrations(MIGRATIONS_DIR));
  if (command === 'create') {
    if (!values.id) throw new Error('create needs --id <principal id>');
    const agents = (values.agents ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const created = await createApiKey(db.client, values.id, values.role ?? 'agent', agents);
    const acting = created.agents.length ? `, may act as ${created.agents.join(', ')}` : '';
    console.log(`created key for ${created.id} (role ${created.role}${acting}); it is shown only this once:`);
    console.log(created.key);
  } else if (command === 'revoke') {
    if (!values.id) throw new Error('revoke needs --id <principal id>');
    console.log(
      (await revokeApiKey(db.client, values.id)) ? `revoked ${values.id}` : `no active key for ${values.id}`,
    );
  } else if (command === 'budget') {
    await runBudgetCommand(db.client, positionals[1], values);
  } else if (command === 'list') {
    for (const row of await listApiKeys(db.client)) {
      console.log(
        `${row.id}\t${row.role}\t${row.revoked_at ? 'revoked' : 'active'}\t${new Date(row.created_at).toISOString()}\t${row.agents.join(',')}`,
      );
    }
  } else {
    throw new Error(
      'usage: npm run keys -- create --role agent|approver|admin --id <id> [--agents a,b] | list | revoke --id <id>',
    );
  }
} catch (err) {
  console.error(`keys: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.close();
  await database.close();
}
