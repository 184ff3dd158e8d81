/**
 * Attacks on the ledger by someone who holds the database (as its owner, triggers off) but not the
 * signing key, each on a log of its own so nothing races with tests that verify `main`.
 */
import { describe, expect, inject, it } from 'vitest';
import { appendLedgerEntries, fetchNodes, sealPending } from '../../shared/audit/ledger.ts';
import {
  actionInclusionProofs,
  consistencyBetween,
  createCheckpoint,
  sealedRows,
  storedRoot,
  verifyStoredLog,
} from '../../shared/audit/ledger-checkpoints.ts';
import { exportLedger, verifyExport } from '../../shared/audit/ledger-export.ts';
import { canonicalEntry, chainHash, type HashedEntry } from '../../shared/audit/ledger-hash.ts';
import {
  type Checkpoint,
  generateSignerKey,
  openCheckpointNote,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
} from '../../shared/audit/ledger-note.ts';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  verifyConsistency,
  verifyInclusion,
  withFetchedNodes,
} from '../../shared/audit/ledger-tree.ts';
import type { Client } from '../../shared/db/postgres.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings, type Settings } from '../../shared/env.ts';
import { bulkAppend, bulkRows, rebuildTree, syntheticEntry } from '../../test/ledger-bulk.ts';
import { testEnv } from '../../test/workers/helpers.ts';

const KEY = await generateSignerKey('attack.test/ledger');
const VERIFIER = parseVerifierKey(KEY.verifier);

async function ownerSettings(signer = KEY.signer): Promise<Settings> {
  return getSettings(await testEnv({ DATABASE_URL: inject('adminDatabaseUrl'), LEDGER_SIGNING_KEY: signer }));
}

async function db<T>(
  fn: (client: Client, settings: Settings) => Promise<T>,
  signer = KEY.signer,
): Promise<T> {
  const settings = await ownerSettings(signer);
  return withPostgres(settings, (client) => fn(client, settings), { connectTimeoutMs: 20_000 });
}

const newLog = (what: string) => `attack-${what}-${crypto.randomUUID().slice(0, 8)}`;

/**
 * A log written through the real append path and sealer, with a checkpoint after every `every`
 * rows; returns the checkpoints' notes (what a witness holds).
 */
async function buildLog(log: string, rows: number, every: number, signer = KEY.signer): Promise<string[]> {
  return db(async (client, settings) => {
    const notes: string[] = [];
    for (let done = 0; done < rows; done += every) {
      const items = Array.from({ length: Math.min(every, rows - done) }, (_, i) => ({
        entry: syntheticEntry(log, done + i),
      }));
      await appendLedgerEntries(client, items, { log });
      await sealPending(client, log);
      const made = await createCheckpoint(client, settings, { log });
      notes.push(made!.checkpoint.note);
    }
    return notes;
  }, signer);
}

/** Runs statements as the owner with triggers (the append-only backstop) disabled. */
async function asForger(client: Client, fn: () => Promise<void>): Promise<void> {
  await client.query('begin');
  await client.query('set local session_replication_role = replica');
  await fn();
  await client.query('commit');
}

/** The perfect forger: edit one row, then recompute every later chain hash and the whole tree. */
async function forge(client: Client, log: string, seq: number, inputs: unknown): Promise<void> {
  await asForger(client, async () => {
    await client.query(
      `update audit.action_logs set inputs = $3::jsonb
        where id = (select entry_id from audit.ledger_seq where log = $1 and seq = $2)`,
      [log, seq, JSON.stringify(inputs)],
    );
    let prev: string | undefined;
    for await (const page of sealedRows(client, log, { fromSeq: seq })) {
      for (const row of page) {
        prev ??= row.prev_hash;
        const created = new Date(row.created_at).toISOString();
        const hash = chainHash(
          prev,
          canonicalEntry({ ...(row as unknown as HashedEntry), created_at: created }),
        );
        await client.query(
          'update audit.ledger_seq set prev_hash = $3, row_hash = $4 where log = $1 and seq = $2',
          [log, row.seq, prev, hash],
        );
        prev = hash;
      }
    }
    await client.query('delete from audit.tree_nodes where log = $1', [log]);
    await rebuildTree(client, log);
  });
}

async function exported(client: Client, log: string, filter: (line: string) => boolean = () => true) {
  const lines: string[] = [];
  for await (const line of exportLedger(client, { log })) if (filter(line)) lines.push(line);
  return lines;
}

describe('the perfect forger (has the database, not the key)', () => {
  it('an edited row with every later hash and tree node recomputed fails at the first checkpoint after it, online and offline', async () => {
    const log = newLog('forger');
    const witness = await buildLog(log, 30, 10); // checkpoints at 10, 20, 30
    await db(async (client, settings) => {
      expect(await verifyStoredLog(client, settings, log)).toMatchObject({
        ok: true,
        checked: 30,
        checkpoints: 3,
      });
      await forge(client, log, 15, { n: 15, q: 'forged' });
      const online = await verifyStoredLog(client, settings, log);
      expect(online).toMatchObject({ ok: false, first_bad_checkpoint: { tree_size: 20, source: 'log' } });
      // The rows agree with themselves: no row is reported, the signature is what exposes them.
      expect(online.first_bad).toBeUndefined();

      // The forger also deletes the checkpoints that expose the edit: the witness copies do not go away.
      await asForger(client, async () => {
        await client.query('delete from audit.checkpoints where log = $1 and tree_size > 10', [log]);
      });
      expect(await verifyStoredLog(client, settings, log)).toMatchObject({ ok: true });
      const offline = await verifyExport(() => [], { key: VERIFIER }).catch(() => null);
      expect(offline).toBeNull(); // an empty file is not an export
      const lines = await exported(client, log);
      const result = await verifyExport(() => lines, { key: VERIFIER, witness });
      expect(result).toMatchObject({ ok: false, first_bad_checkpoint: { tree_size: 20, source: 'witness' } });
    });
  }, 60_000);

  it('deleting the newest rows after a checkpoint is detected', async () => {
    const log = newLog('truncate-tail');
    await buildLog(log, 12, 12);
    await db(async (client, settings) => {
      await asForger(client, async () => {
        const { rows } = await client.query<{ entry_id: string }>(
          'delete from audit.ledger_seq where log = $1 and seq > 10 returning entry_id',
          [log],
        );
        await client.query('delete from audit.action_logs where id = any($1::uuid[])', [
          rows.map((r) => r.entry_id),
        ]);
        await client.query('delete from audit.tree_nodes where log = $1', [log]);
        await rebuildTree(client, log);
      });
      const result = await verifyStoredLog(client, settings, log);
      expect(result).toMatchObject({ ok: false, checked: 10, first_bad_checkpoint: { tree_size: 12 } });
      expect(result.first_bad_checkpoint!.reason).toMatch(/rows were removed/);
    });
  });

  it('a log truncated and rebuilt under a fresh key fails against the pinned checkpoint and the witness', async () => {
    const log = newLog('rebuild');
    const witness = await buildLog(log, 10, 5);
    const pinned = witness[witness.length - 1]!;
    const fresh = await generateSignerKey('attack.test/ledger');
    await db(async (client) => {
      await asForger(client, async () => {
        const { rows } = await client.query<{ entry_id: string }>(
          'delete from audit.ledger_seq where log = $1 returning entry_id',
          [log],
        );
        await client.query('delete from audit.action_logs where id = any($1::uuid[])', [
          rows.map((r) => r.entry_id),
        ]);
        await client.query('delete from audit.tree_nodes where log = $1', [log]);
        await client.query('delete from audit.checkpoints where log = $1', [log]);
      });
    });
    // History rewritten from scratch through the real path, signed by the attacker's own key.
    await buildLog(log, 12, 6, fresh.signer);
    await db(async (client, settings) => {
      // Under its own key the rebuilt log is self-consistent...
      const own = await verifyStoredLog(client, settings, log);
      expect(own.ok).toBe(true);
      const lines = await exported(client, log);
      // ...but a client that pinned a checkpoint of the real key sees it is not the log it trusted,
      const pinnedOnly = await verifyExport(() => lines, { key: VERIFIER, trusted: pinned });
      expect(pinnedOnly.ok).toBe(false);
      const rowsOnly = lines.filter((l) => !l.includes('"type":"checkpoint"'));
      expect(await verifyExport(() => rowsOnly, { key: VERIFIER, trusted: pinned })).toMatchObject({
        ok: false,
        first_bad_checkpoint: { source: 'trusted', tree_size: 10 },
      });
      // ...and so does the witness.
      expect(await verifyExport(() => rowsOnly, { key: VERIFIER, witness })).toMatchObject({
        ok: false,
        first_bad_checkpoint: { source: 'witness', tree_size: 5 },
      });
    }, fresh.signer);
  });

  it('a checkpoint row replaced with one signed by another key is detected', async () => {
    const log = newLog('resign');
    await buildLog(log, 10, 5);
    const other = await parseSignerKey((await generateSignerKey('attack.test/ledger')).signer);
    await db(async (client, settings) => {
      const root = await storedRoot(client, log, 10);
      const forged = await signCheckpoint(
        {
          origin: `attack.test/ledger/${log}`,
          size: 10,
          root,
          time: '2026-12-01T00:00:00Z',
        } satisfies Checkpoint,
        other,
      );
      await asForger(client, async () => {
        await client.query('update audit.checkpoints set note = $3 where log = $1 and tree_size = $2', [
          log,
          10,
          forged,
        ]);
      });
      const result = await verifyStoredLog(client, settings, log);
      expect(result).toMatchObject({ ok: false, first_bad_checkpoint: { tree_size: 10 } });
      expect(result.first_bad_checkpoint!.reason).toMatch(/not signed by attack\.test\/ledger\+/);
    });
  });
});

describe('a rotated signing key', () => {
  it('older checkpoints verify against LEDGER_PREVIOUS_PUBLIC_KEYS (online) and further --public-key (offline)', async () => {
    const log = newLog('rotated');
    await buildLog(log, 40, 20); // checkpoints at 20 and 40 under the first key
    // Rotated to a new key (another name, so another origin too), which signs from then on.
    const next = await generateSignerKey('attack.test/ledger-next');
    await buildLog(log, 20, 20, next.signer); // checkpoint at 60
    await db(async (client, settings) => {
      const alone = await verifyStoredLog(client, settings, log);
      expect(alone).toMatchObject({ ok: false, first_bad_checkpoint: { tree_size: 20 } });
      expect(alone.first_bad_checkpoint!.reason).toMatch(/origin is attack\.test\/ledger\//);
      const rotated = { ...settings, LEDGER_PREVIOUS_PUBLIC_KEYS: KEY.verifier };
      expect(await verifyStoredLog(client, rotated, log)).toMatchObject({
        ok: true,
        checked: 60,
        checkpoints: 3,
      });
      // A key that never signed this log does not help.
      const other = await generateSignerKey('attack.test/ledger');
      const wrong = { ...settings, LEDGER_PREVIOUS_PUBLIC_KEYS: other.verifier };
      const stillBad = await verifyStoredLog(client, wrong, log);
      expect(stillBad).toMatchObject({ ok: false, first_bad_checkpoint: { tree_size: 20 } });
      expect(stillBad.first_bad_checkpoint!.reason).toMatch(/not signed by/);

      const lines = await exported(client, log);
      const nextKey = parseVerifierKey(next.verifier);
      const origins = { origin: `attack.test/ledger-next/${log}` };
      expect((await verifyExport(() => lines, { key: nextKey, ...origins })).ok).toBe(false);
      const offline = await verifyExport(() => lines, { key: nextKey, previousKeys: [VERIFIER] });
      expect(offline).toMatchObject({ ok: true, checked: 60, checkpoints: 3 });
    }, next.signer);
  });
});

describe('an archived prefix (rows exported, then removed by the operator)', () => {
  it('verifies from the stored nodes (?from=); an edit after the prefix, or a forged prefix node, fails', async () => {
    const log = newLog('archived');
    await buildLog(log, 120, 40); // checkpoints at 40, 80, 120
    await db(async (client, settings) => {
      // The operator archives rows 1-80 and removes them (only possible with the triggers off).
      await asForger(client, async () => {
        await client.query(
          `delete from audit.action_logs where id in
             (select entry_id from audit.ledger_seq where log = $1 and seq <= 80)`,
          [log],
        );
      });
      const whole = await verifyStoredLog(client, settings, log);
      expect(whole).toMatchObject({ ok: false, first_bad: { seq: 1 } });
      const rest = await verifyStoredLog(client, settings, log, { fromSeq: 81 });
      expect(rest, JSON.stringify(rest)).toMatchObject({
        ok: true,
        checked: 40,
        checkpoints: 3,
        from_seq: 81,
      });

      // A stored node of the archived part replaced: the tree rebuilt from the stored edge is no
      // longer the signed root at 80 (where the rows start).
      const { rows: edge } = await client.query<{ level: number; idx: string }>(
        'select level, idx from audit.tree_nodes where log = $1 and level = 6 and idx = 0',
        [log],
      );
      expect(edge).toHaveLength(1);
      await asForger(client, async () => {
        await client.query(
          "update audit.tree_nodes set hash = sha256('forged'::bytea) where log = $1 and level = 6 and idx = 0",
          [log],
        );
      });
      const forged = await verifyStoredLog(client, settings, log, { fromSeq: 81 });
      expect(forged.ok).toBe(false);
      expect(forged.first_bad_checkpoint?.tree_size).toBe(80);
    });
  });

  it('a row edited after the prefix fails at the next checkpoint', async () => {
    const log = newLog('archived-edit');
    await buildLog(log, 120, 40);
    await db(async (client, settings) => {
      await forge(client, log, 100, { q: 'forged' });
      const result = await verifyStoredLog(client, settings, log, { fromSeq: 81 });
      expect(result).toMatchObject({ ok: false, first_bad_checkpoint: { tree_size: 120 } });
    });
  });
});

describe('proofs over a 100,000-row log (bulk inserted)', () => {
  it('1,000 random inclusion proofs and 50 random consistency proofs verify; a tampered row’s does not', async () => {
    const log = newLog('big');
    const size = 100_000;
    await db(async (client) => {
      await bulkAppend(client, log, size);
      // The rows the proofs are for, read back (with the row before each, for the tampered case).
      const picks = Array.from({ length: 1000 }, () => 1 + Math.floor(Math.random() * size));
      const rows = await bulkRows(client, log, [...new Set(picks.flatMap((seq) => [seq, seq - 1]))]);
      // Checkpoints at 12 random sizes (and the full size), signed as the sealer would.
      const signer = await parseSignerKey(KEY.signer);
      const sizes = [
        ...new Set([size, ...Array.from({ length: 12 }, () => 1 + Math.floor(Math.random() * size))]),
      ].sort((a, b) => a - b);
      const checkpoints: Array<{ size: number; root: Uint8Array; note: string }> = [];
      for (const s of sizes) {
        const root = await storedRoot(client, log, s);
        const note = await signCheckpoint(
          { origin: `attack.test/ledger/${log}`, size: s, root, time: '2026-12-01T00:00:00Z' },
          signer,
        );
        await client.query(
          `insert into audit.checkpoints (log, tree_size, root_hash, created_at, key_name, key_id, note)
           values ($1, $2, $3, now(), $4, $5, $6)`,
          [log, s, Buffer.from(root), signer.name, signer.keyId, note],
        );
        const opened = await openCheckpointNote(note, VERIFIER);
        checkpoints.push({ size: s, root: opened!.root, note });
      }

      // Every proof from the stored nodes, all 1,000 read in one query (each proof alone is what
      // GET .../proof computes; the first goes through that route's code as well).
      const forPick = picks.map((seq) => checkpoints.find((c) => c.size >= seq)!);
      const paths = await withFetchedNodes(
        (nodes) => picks.map((seq, i) => inclusionProof(nodes, seq - 1, forPick[i]!.size)),
        (refs) => fetchNodes(client, log, refs),
      );
      for (let i = 0; i < 1000; i++) {
        const row = rows.get(picks[i]!)!;
        const cp = forPick[i]!;
        const path = paths[i]!;
        // The leaf is recomputed from the row's content (and the previous row's hash), not read
        // from the database.
        const recomputed = chainHash(rows.get(row.seq - 1)?.row_hash ?? '0'.repeat(64), canonicalEntry(row));
        expect(recomputed).toBe(row.row_hash);
        const leaf = leafHash(recomputed);
        expect(verifyInclusion(leaf, row.seq - 1, cp.size, path, cp.root)).toBe(true);
        if (i === 0) {
          const tampered = chainHash(
            rows.get(row.seq - 1)?.row_hash ?? '0'.repeat(64),
            canonicalEntry({ ...row, inputs: { ...(row.inputs as object), q: 'tampered' } }),
          );
          expect(verifyInclusion(leafHash(tampered), row.seq - 1, cp.size, path, cp.root)).toBe(false);
          // The route's shape: the same proof through actionInclusionProofs.
          const api = await actionInclusionProofs(client, row.action_id, { log, size: cp.size });
          expect(api.entries[0]!.inclusion_proof).toEqual(path.map((h) => Buffer.from(h).toString('base64')));
        }
      }

      const pairs = checkpoints.flatMap((a, i) => checkpoints.slice(i + 1).map((b) => [a, b] as const));
      const chosen = Array.from({ length: 50 }, () => pairs[Math.floor(Math.random() * pairs.length)]!);
      const proofs = await withFetchedNodes(
        (nodes) => chosen.map(([a, b]) => consistencyProof(nodes, a.size, b.size)),
        (refs) => fetchNodes(client, log, refs),
      );
      chosen.forEach(([a, b], i) => {
        expect(verifyConsistency(a.size, b.size, proofs[i]!, a.root, b.root), `${a.size} → ${b.size}`).toBe(
          true,
        );
      });
      // The route's code gives the same proof.
      const [a, b] = chosen[0]!;
      const p = await consistencyBetween(client, a.size, b.size, log);
      expect(p.proof).toEqual(proofs[0]!.map((h) => Buffer.from(h).toString('base64')));
    });
    // The log is built inside Postgres (test/ledger-bulk.ts): seconds, where building it in JS and
    // sealing through 0020's tree_extend took 72 s alone and over 300 s beside the whole suite.
  }, 300_000);
});
