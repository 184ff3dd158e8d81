import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXPORT_FORMAT } from '../../shared/audit/ledger-export.ts';
import { canonicalEntry, chainHash, GENESIS_HASH } from '../../shared/audit/ledger-hash.ts';
import { generateSignerKey, parseSignerKey, signCheckpoint } from '../../shared/audit/ledger-note.ts';
import { CompactTree, leafHash } from '../../shared/audit/ledger-tree.ts';
import { syntheticEntry } from '../ledger-bulk.ts';

const run = promisify(execFile);

/** An export as `npm run ledger -- export` writes it, built in memory: no database anywhere. */
async function buildExport(rows: number, every: number) {
  const key = await generateSignerKey('cli.test/ledger');
  const signer = await parseSignerKey(key.signer);
  const tree = new CompactTree();
  let prev = GENESIS_HASH;
  const lines: string[] = [];
  const notes: string[] = [];
  for (let i = 0; i < rows; i++) {
    const e = syntheticEntry('cli', i);
    const row_hash = chainHash(prev, canonicalEntry(e));
    lines.push(JSON.stringify({ type: 'row', ...e, seq: i + 1, prev_hash: prev, row_hash }));
    prev = row_hash;
    tree.push(leafHash(row_hash));
    if ((i + 1) % every === 0) {
      notes.push(
        await signCheckpoint(
          { origin: 'cli.test/ledger', size: i + 1, root: tree.root(), time: '2026-12-01T00:00:00Z' },
          signer,
        ),
      );
    }
  }
  const header = {
    type: 'header',
    format: EXPORT_FORMAT,
    log: 'main',
    from_seq: 1,
    to_seq: rows,
    prev_hash: GENESIS_HASH,
    frontier: [],
    exported_at: '2026-12-01T00:00:00Z',
  };
  const checkpoints = notes.map((note, i) =>
    JSON.stringify({ type: 'checkpoint', tree_size: (i + 1) * every, note }),
  );
  return { key, notes, lines: [JSON.stringify(header), ...lines, ...checkpoints] };
}

async function verify(args: string[]): Promise<{
  code: number;
  result: {
    ok: boolean;
    first_bad?: { seq: number };
    first_bad_checkpoint?: { tree_size: number; source: string };
  };
}> {
  try {
    const { stdout } = await run(process.execPath, ['local/ledger-cli.ts', 'verify', ...args], {
      env: { ...process.env, DATABASE_URL: '' },
    });
    return { code: 0, result: JSON.parse(stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, result: JSON.parse(e.stdout) };
  }
}

describe('npm run ledger -- verify (offline: no database, no gateway)', () => {
  it('accepts an intact export with its witness copies and a pinned checkpoint; rejects an edited one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-cli-'));
    const { key, notes, lines } = await buildExport(40, 10);
    const file = join(dir, 'ledger.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const witness = join(dir, 'witness.json');
    writeFileSync(witness, JSON.stringify(notes));
    const pinned = join(dir, 'pinned.txt');
    writeFileSync(pinned, notes[1]!);

    const ok = await verify([
      file,
      '--public-key',
      key.verifier,
      '--witness',
      witness,
      '--trusted-checkpoint',
      pinned,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.result).toMatchObject({ ok: true, checked: 40, checkpoints: 4 + 4 + 1, witness_checked: 4 });

    // One row's inputs edited in the file: the row is named.
    const edited = lines.map((l) => (l.includes('"seq":17,') ? l.replace('"query 16"', '"query X"') : l));
    writeFileSync(file, `${edited.join('\n')}\n`);
    const bad = await verify([file, '--public-key', key.verifier]);
    expect(bad.code).toBe(1);
    expect(bad.result.first_bad?.seq).toBe(17);

    // Another key's public key: no checkpoint verifies.
    writeFileSync(file, `${lines.join('\n')}\n`);
    const other = await generateSignerKey('cli.test/ledger');
    const wrongKey = await verify([file, '--public-key', other.verifier]);
    expect(wrongKey).toMatchObject({
      code: 1,
      result: { first_bad_checkpoint: { tree_size: 10, source: 'log' } },
    });
  }, 60_000);
});
