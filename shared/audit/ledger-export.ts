/**
 * The ledger as a file anyone can verify: JSON lines of a header, the sealed rows in seq order and
 * the signed checkpoints (`npm run ledger -- export|archive`), and the offline verifier for it
 * (`npm run ledger -- verify`): no database, no gateway, only the log's public key.
 */
import type { Client } from '../db/postgres.ts';
import { fetchNodes, MAIN_LOG, treeSize } from './ledger.ts';
import { allCheckpoints, sealedRows } from './ledger-checkpoints.ts';
import { GENESIS_HASH } from './ledger-hash.ts';
import type { VerifierKey } from './ledger-note.ts';
import { CompactTree, fromBase64, frontierOf, toBase64, withFetchedNodes } from './ledger-tree.ts';
import {
  type CheckpointToCheck,
  LedgerVerifier,
  type SealedRow,
  type VerifyResult,
} from './ledger-verify.ts';

export const EXPORT_FORMAT = 'mas-ledger-export/1';

export interface ExportHeader {
  type: 'header';
  format: typeof EXPORT_FORMAT;
  log: string;
  /** First and last seq in the file (to < from: no rows). */
  from_seq: number;
  to_seq: number;
  /** row_hash of row from_seq - 1, and the right-edge subtrees of that tree (base64). */
  prev_hash: string;
  frontier: string[];
  exported_at: string;
}

/**
 * Lines of an export of rows [since, until] (default: all) and every checkpoint up to `until`.
 * Memory stays flat: rows are read a page at a time.
 */
export async function* exportLedger(
  client: Client,
  options: { log?: string; since?: number; until?: number } = {},
): AsyncGenerator<string> {
  const log = options.log ?? MAIN_LOG;
  const size = await treeSize(client, log);
  const from = Math.max(1, options.since ?? 1);
  const to = Math.min(size, options.until ?? size);
  const frontier = await withFetchedNodes(
    (nodes) => frontierOf(nodes, from - 1),
    (refs) => fetchNodes(client, log, refs),
  );
  const { rows: prev } = await client.query<{ row_hash: string }>(
    'select row_hash from audit.ledger_seq where log = $1 and seq = $2',
    [log, from - 1],
  );
  const header: ExportHeader = {
    type: 'header',
    format: EXPORT_FORMAT,
    log,
    from_seq: from,
    to_seq: to,
    prev_hash: prev[0]?.row_hash ?? GENESIS_HASH,
    frontier: frontier.map(toBase64),
    exported_at: new Date().toISOString(),
  };
  yield JSON.stringify(header);
  if (to >= from) {
    for await (const page of sealedRows(client, log, { fromSeq: from, toSeq: to })) {
      for (const row of page) {
        yield JSON.stringify({
          type: 'row',
          ...row,
          seq: Number(row.seq),
          created_at: new Date(row.created_at).toISOString(),
        });
      }
    }
  }
  for (const c of await allCheckpoints(client, log)) {
    if (c.tree_size <= to) yield JSON.stringify({ type: 'checkpoint', tree_size: c.tree_size, note: c.note });
  }
}

/** The segment `archive --before` exports: rows up to the last checkpoint before `before`. */
export async function archiveRange(
  client: Client,
  before: Date,
  log: string = MAIN_LOG,
): Promise<{ until: number } | null> {
  const { rows } = await client.query<{ until: string | null }>(
    `select max(c.tree_size) as until from audit.checkpoints c
      where c.log = $1 and c.tree_size > 0 and (
        select l.created_at from audit.ledger_seq s join audit.action_logs l on l.id = s.entry_id
         where s.log = c.log and s.seq = c.tree_size) < $2`,
    [log, before.toISOString()],
  );
  return rows[0]?.until ? { until: Number(rows[0].until) } : null;
}

/** Notes from a witness file: a JSON array, or JSON lines, of notes or `{ note }` objects. */
export function parseNotes(text: string): string[] {
  const pick = (v: unknown): string | null =>
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && 'note' in v
        ? String((v as { note: unknown }).note)
        : null;
  const trimmed = text.trim();
  if (trimmed.startsWith('['))
    return (JSON.parse(trimmed) as unknown[]).map(pick).filter((n): n is string => !!n);
  if (!trimmed.startsWith('{') && !trimmed.startsWith('"')) return trimmed ? [`${trimmed}\n`] : [];
  return trimmed
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => pick(JSON.parse(l)))
    .filter((n): n is string => !!n);
}

export interface OfflineResult extends VerifyResult {
  from_seq: number;
  to_seq: number;
  witness_checked: number;
  trusted?: { tree_size: number; extended: boolean };
}

/**
 * Verifies an export: every row's chain hash, the tree, every checkpoint's signature and root, and
 * the outside copies: each witness note and the trusted (pinned) checkpoint must be signed by `key`
 * and be the root of these rows at its size, so a log rebuilt from scratch, rewritten by someone
 * holding the database, or cut short, fails against them.
 */
export async function verifyExport(
  /** Reads the export; called twice (checkpoints first, then the rows in one pass, flat memory). */
  open: () => AsyncIterable<string> | Iterable<string>,
  options: {
    key: VerifierKey;
    /** Keys older checkpoints were signed with (before a rotation). */
    previousKeys?: VerifierKey[];
    witness?: string[];
    trusted?: string;
    origin?: string;
  },
): Promise<OfflineResult> {
  let header: ExportHeader | undefined;
  const checkpoints: CheckpointToCheck[] = [
    ...(options.witness ?? []).map((note): CheckpointToCheck => ({ note, source: 'witness' })),
    ...(options.trusted ? [{ note: options.trusted, source: 'trusted' as const }] : []),
  ];
  for await (const item of items(open())) {
    if (item.type === 'header') header = item as unknown as ExportHeader;
    else if (item.type === 'checkpoint') {
      checkpoints.push({ note: String(item.note), source: 'log', tree_size: Number(item.tree_size) });
    }
  }
  if (!header || header.format !== EXPORT_FORMAT) throw new Error(`not a ${EXPORT_FORMAT} file`);
  const start =
    header.from_seq > 1
      ? {
          seq: header.from_seq,
          prevHash: header.prev_hash,
          tree: CompactTree.fromFrontier(header.frontier.map(fromBase64), header.from_seq - 1),
        }
      : undefined;
  const verifier = await LedgerVerifier.create({
    key: options.key,
    ...(options.previousKeys ? { previousKeys: options.previousKeys } : {}),
    ...(options.origin ? { origin: options.origin } : {}),
    checkpoints,
    ...(start ? { start } : {}),
  });
  for await (const item of items(open())) {
    if (item.type === 'row' && !verifier.row(item as unknown as SealedRow)) break;
  }
  const result = verifier.finish();
  const trustedSize = options.trusted ? sizeOf(options.trusted) : undefined;
  return {
    ...result,
    from_seq: header.from_seq,
    to_seq: header.to_seq,
    witness_checked: options.witness?.length ?? 0,
    ...(trustedSize !== undefined ? { trusted: { tree_size: trustedSize, extended: result.ok } } : {}),
  };
}

async function* items(lines: AsyncIterable<string> | Iterable<string>) {
  for await (const line of lines) {
    if (line.trim()) yield JSON.parse(line) as { type: string } & Record<string, unknown>;
  }
}

function sizeOf(note: string): number | undefined {
  const size = note.split('\n')[1];
  return size && /^\d+$/.test(size) ? Number(size) : undefined;
}
