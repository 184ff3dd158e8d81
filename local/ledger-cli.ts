/**
 * `npm run ledger -- export [--since seq] > ledger.jsonl`: rows and signed checkpoints as JSON lines.
 * `npm run ledger -- verify ledger.jsonl --public-key <key> [--public-key <older key>...] [--witness file] [--trusted-checkpoint note]`:
 *   verifies an export offline (no database, no gateway): exits 1 when anything does not verify.
 *   After a key rotation, pass the keys that signed older checkpoints as further --public-key.
 * `npm run ledger -- archive --before <date> [--out file]`: a verifiable segment for cold storage
 *   (the rows up to the last checkpoint before the date, and the checkpoints that cover them).
 */
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { archiveRange, exportLedger, parseNotes, verifyExport } from '../shared/audit/ledger-export.ts';
import { parseVerifierKey } from '../shared/audit/ledger-note.ts';
import { loadDotEnv } from './dotenv.ts';
import { applyMigrations, MIGRATIONS_DIR, readMigrations, resolveLocalDatabase } from './local-database.ts';
import { connectNodePostgres } from './node-postgres.ts';

loadDotEnv();
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    since: { type: 'string' },
    before: { type: 'string' },
    out: { type: 'string' },
    log: { type: 'string', default: 'main' },
    // Repeatable: the current key first, then keys older checkpoints were signed with.
    'public-key': { type: 'string', multiple: true },
    witness: { type: 'string' },
    'trusted-checkpoint': { type: 'string' },
  },
});
const [command, file] = positionals;
const usage =
  'usage: npm run ledger -- export [--since seq] | verify <file> --public-key <key> [--public-key <older key>...] [--witness <file>] [--trusted-checkpoint <note or file>] | archive --before <date> [--out <file>]';

/** A value given inline or as a file holding it. */
const inlineOrFile = (v: string) => (existsSync(v) ? readFileSync(v, 'utf8') : v);

async function withDatabase<T>(fn: (client: import('../shared/db/postgres.ts').Client) => Promise<T>) {
  const database = await resolveLocalDatabase();
  const db = await connectNodePostgres(database.databaseUrl);
  try {
    await applyMigrations(db.client, readMigrations(MIGRATIONS_DIR));
    return await fn(db.client);
  } finally {
    await db.close();
    await database.close();
  }
}

async function write(lines: AsyncIterable<string>, out?: string): Promise<number> {
  const stream = out ? createWriteStream(out) : process.stdout;
  let n = 0;
  for await (const line of lines) {
    if (!stream.write(`${line}\n`)) await new Promise<void>((r) => stream.once('drain', () => r()));
    n++;
  }
  if (out) await new Promise((r) => (stream as ReturnType<typeof createWriteStream>).end(r));
  return n;
}

try {
  if (command === 'export') {
    const since = values.since ? Number(values.since) : undefined;
    if (since !== undefined && !(Number.isInteger(since) && since >= 1))
      throw new Error('--since takes a seq (1 or more)');
    await withDatabase((client) =>
      write(exportLedger(client, { log: values.log ?? 'main', ...(since ? { since } : {}) }), values.out),
    );
  } else if (command === 'archive') {
    const before = values.before ? new Date(values.before) : undefined;
    if (!before || Number.isNaN(before.getTime())) throw new Error('archive needs --before <date>');
    await withDatabase(async (client) => {
      const range = await archiveRange(client, before, values.log ?? 'main');
      if (!range) throw new Error(`no checkpoint covers rows from before ${before.toISOString()}`);
      await write(exportLedger(client, { log: values.log ?? 'main', until: range.until }), values.out);
      console.error(`archived rows 1-${range.until} with the checkpoints that cover them`);
    });
  } else if (command === 'verify') {
    if (!file) throw new Error('verify needs the export file');
    const [first, ...older] = values['public-key'] ?? [];
    if (!first) throw new Error('verify needs --public-key <name+id+key> (GET /v1/audit/public-key)');
    const key = parseVerifierKey(inlineOrFile(first));
    const previousKeys = older.map((k) => parseVerifierKey(inlineOrFile(k)));
    const witness = values.witness ? parseNotes(readFileSync(values.witness, 'utf8')) : undefined;
    const trusted = values['trusted-checkpoint'] ? inlineOrFile(values['trusted-checkpoint']) : undefined;
    const result = await verifyExport(
      () => createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY }),
      { key, previousKeys, ...(witness ? { witness } : {}), ...(trusted ? { trusted } : {}) },
    );
    console.log(JSON.stringify(result, null, 2));
    if (!result.ok) process.exitCode = 1;
  } else {
    throw new Error(usage);
  }
} catch (err) {
  console.error(`ledger: ${(err as Error).message}`);
  process.exitCode = 1;
}
