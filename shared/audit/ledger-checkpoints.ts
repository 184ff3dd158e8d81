/**
 * Checkpoints, proofs and verification over the stored log: what the audit routes, the scheduled
 * handler and the ledger CLI call.
 */
import { hmacHex } from '../approvals/receipts.ts';
import { webhookUrlProblem } from '../approvals/webhook-url.ts';
import type { Client } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { AppError } from '../errors/index.ts';
import { withDeadline } from '../resilience/deadline.ts';
import { fetchNodes, MAIN_LOG, sealAll, treeSize } from './ledger.ts';
import { GENESIS_HASH } from './ledger-hash.ts';
import {
  type Checkpoint,
  parseSignerKey,
  parseVerifierKey,
  type SignerKey,
  signCheckpoint,
  type VerifierKey,
} from './ledger-note.ts';
import {
  CompactTree,
  consistencyProof,
  fromBase64,
  frontierOf,
  type Hash,
  inclusionProof,
  leafHash,
  MissingNodeError,
  rootHash,
  toBase64,
  verifyConsistency,
  withFetchedNodes,
} from './ledger-tree.ts';
import {
  type CheckpointToCheck,
  LedgerVerifier,
  type SealedRow,
  type SegmentStart,
  type VerifyResult,
} from './ledger-verify.ts';

let cachedKey: { text: string; key: Promise<SignerKey> } | undefined;

/** The signing key from LEDGER_SIGNING_KEY (parsed once per isolate), or null when unset. */
export async function signingKey(settings: Settings): Promise<SignerKey | null> {
  const text = settings.LEDGER_SIGNING_KEY;
  if (!text) return null;
  if (cachedKey?.text !== text) cachedKey = { text, key: parseSignerKey(text) };
  try {
    return await cachedKey.key;
  } catch (err) {
    cachedKey = undefined;
    throw new AppError(500, 'ledger_key_invalid', `LEDGER_SIGNING_KEY is invalid: ${(err as Error).message}`);
  }
}

/** LEDGER_PREVIOUS_PUBLIC_KEYS: the keys older checkpoints were signed with (after a rotation). */
export function previousKeys(settings: Settings): VerifierKey[] {
  const text = settings.LEDGER_PREVIOUS_PUBLIC_KEYS?.trim();
  if (!text) return [];
  return text.split(/[\s,]+/).map((k) => {
    try {
      return parseVerifierKey(k);
    } catch (err) {
      throw new AppError(
        500,
        'ledger_key_invalid',
        `LEDGER_PREVIOUS_PUBLIC_KEYS has an invalid key: ${(err as Error).message}`,
      );
    }
  });
}

export async function requireSigningKey(settings: Settings): Promise<SignerKey> {
  const key = await signingKey(settings);
  if (!key) {
    throw new AppError(
      503,
      'ledger_unsigned',
      'LEDGER_SIGNING_KEY is not set: the ledger cannot sign or check checkpoints.',
    );
  }
  return key;
}

/** The checkpoint origin of a log: LEDGER_ORIGIN (or the key's name), `/<log>` for other logs. */
export function originOf(settings: Settings, key: VerifierKey, log: string): string {
  const base = settings.LEDGER_ORIGIN ?? key.name;
  return log === MAIN_LOG ? base : `${base}/${log}`;
}

export interface StoredCheckpoint {
  tree_size: number;
  root_hash: string;
  created_at: string;
  key_id: string;
  note: string;
}

interface CheckpointRow {
  tree_size: string;
  root_hash: Uint8Array;
  created_at: Date;
  key_id: string;
  note: string;
}

const present = (r: CheckpointRow): StoredCheckpoint => ({
  tree_size: Number(r.tree_size),
  root_hash: toBase64(new Uint8Array(r.root_hash)),
  created_at: new Date(r.created_at).toISOString(),
  key_id: r.key_id,
  note: r.note,
});

export async function storedRoot(client: Client, log: string, size: number): Promise<Hash> {
  return withFetchedNodes(
    (nodes) => rootHash(nodes, size),
    (refs) => fetchNodes(client, log, refs),
  );
}

/**
 * Seals what is queued and signs the tree as it now is. `onlyIfGrown`: nothing when the latest
 * checkpoint already covers every row (the scheduled handler). An existing checkpoint of the same
 * size is returned as it is (`created: false`).
 */
export async function createCheckpoint(
  client: Client,
  settings: Settings,
  options: { log?: string; onlyIfGrown?: boolean } = {},
): Promise<{ checkpoint: StoredCheckpoint; created: boolean } | null> {
  const log = options.log ?? MAIN_LOG;
  const key = await requireSigningKey(settings);
  await sealAll(client, log);
  const size = await treeSize(client, log);
  const latest = await latestCheckpoint(client, log);
  if (latest && latest.tree_size >= size) {
    return options.onlyIfGrown ? null : { checkpoint: latest, created: false };
  }
  const root = await storedRoot(client, log, size);
  const checkpoint: Checkpoint = {
    origin: originOf(settings, key, log),
    size,
    root,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const note = await signCheckpoint(checkpoint, key);
  const { rows } = await client.query<CheckpointRow>(
    `insert into audit.checkpoints (log, tree_size, root_hash, created_at, key_name, key_id, note)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (log, tree_size) do nothing
     returning tree_size, root_hash, created_at, key_id, note`,
    [log, size, Buffer.from(root), checkpoint.time, key.name, key.keyId, note],
  );
  if (!rows[0]) {
    const again = await latestCheckpoint(client, log);
    return again ? { checkpoint: again, created: false } : null;
  }
  return { checkpoint: present(rows[0]), created: true };
}

/** The scheduled handler's rule: sign when the log grew and the latest is `intervalSeconds` old. */
export async function checkpointIfDue(
  client: Client,
  settings: Settings,
  log: string = MAIN_LOG,
): Promise<StoredCheckpoint | null> {
  if (!settings.LEDGER_SIGNING_KEY) return null;
  const latest = await latestCheckpoint(client, log);
  const age = latest ? Date.now() - Date.parse(latest.created_at) : Number.POSITIVE_INFINITY;
  // A minute-granular cron fires a little early or late: allow a second of slack.
  if (age < settings.LEDGER_CHECKPOINT_INTERVAL_SECONDS * 1000 - 1000) return null;
  const made = await createCheckpoint(client, settings, { log, onlyIfGrown: true });
  return made?.created ? made.checkpoint : null;
}

export async function latestCheckpoint(
  client: Client,
  log: string = MAIN_LOG,
): Promise<StoredCheckpoint | null> {
  const { rows } = await client.query<CheckpointRow>(
    `select tree_size, root_hash, created_at, key_id, note from audit.checkpoints
      where log = $1 order by tree_size desc limit 1`,
    [log],
  );
  return rows[0] ? present(rows[0]) : null;
}

/** Newest first, keyset-paged on tree_size (`before` is the last page's smallest size). */
export async function listCheckpoints(
  client: Client,
  options: { log?: string; limit: number; before?: number },
): Promise<{ data: StoredCheckpoint[]; next_cursor: string | null }> {
  const { rows } = await client.query<CheckpointRow>(
    `select tree_size, root_hash, created_at, key_id, note from audit.checkpoints
      where log = $1 and ($2::bigint is null or tree_size < $2)
      order by tree_size desc limit $3`,
    [options.log ?? MAIN_LOG, options.before ?? null, options.limit + 1],
  );
  const page = rows.slice(0, options.limit).map(present);
  return {
    data: page,
    next_cursor: rows.length > options.limit ? String(page[page.length - 1]!.tree_size) : null,
  };
}

/** Checkpoints in size order, for verification and export. */
export async function allCheckpoints(client: Client, log: string = MAIN_LOG): Promise<StoredCheckpoint[]> {
  const { rows } = await client.query<CheckpointRow>(
    `select tree_size, root_hash, created_at, key_id, note from audit.checkpoints
      where log = $1 order by tree_size`,
    [log],
  );
  return rows.map(present);
}

/** The tree size a proof is for: `size` if given, else the latest checkpoint's. */
async function proofSize(client: Client, log: string, size: number | undefined): Promise<number> {
  const current = await treeSize(client, log);
  if (size !== undefined) {
    if (size > current) {
      throw new AppError(
        400,
        'size_too_large',
        `The log has ${current} sealed rows; size ${size} is beyond it.`,
        {
          param: 'size',
        },
      );
    }
    return size;
  }
  const latest = await latestCheckpoint(client, log);
  if (!latest) {
    throw new AppError(409, 'no_checkpoint', 'No checkpoint yet: pass size, or POST /v1/audit/checkpoints.', {
      param: 'size',
    });
  }
  return latest.tree_size;
}

const b64 = (h: Hash) => toBase64(h);

/** Inclusion proofs of every sealed row of an action in the tree of `size`. */
export async function actionInclusionProofs(
  client: Client,
  actionId: string,
  options: { log?: string; size?: number } = {},
) {
  const log = options.log ?? MAIN_LOG;
  await sealAll(client, log);
  const size = await proofSize(client, log, options.size);
  const { rows } = await client.query<{
    seq: string;
    row_hash: string;
    entry_id: string;
    entry_type: string;
  }>(
    `select s.seq, s.row_hash, s.entry_id, l.entry_type from audit.ledger_seq s
       join audit.action_logs l on l.id = s.entry_id
      where s.log = $1 and l.action_id = $2 order by s.seq`,
    [log, actionId],
  );
  const proofs = await withFetchedNodes(
    (nodes) => ({
      root: rootHash(nodes, size),
      paths: rows
        .filter((r) => Number(r.seq) <= size)
        .map((r) => ({ row: r, path: inclusionProof(nodes, Number(r.seq) - 1, size) })),
    }),
    (refs) => fetchNodes(client, log, refs),
  );
  return {
    action_id: actionId,
    tree_size: size,
    root_hash: b64(proofs.root),
    checkpoint: (await checkpointAt(client, log, size))?.note ?? null,
    entries: proofs.paths.map(({ row, path }) => ({
      entry_id: row.entry_id,
      entry_type: row.entry_type,
      seq: Number(row.seq),
      leaf_index: Number(row.seq) - 1,
      row_hash: row.row_hash,
      leaf_hash: b64(leafHash(row.row_hash)),
      inclusion_proof: path.map(b64),
    })),
    // Rows sealed after `size` are not in that tree yet.
    not_in_tree: rows.filter((r) => Number(r.seq) > size).map((r) => r.entry_id),
  };
}

async function checkpointAt(client: Client, log: string, size: number): Promise<StoredCheckpoint | null> {
  const { rows } = await client.query<CheckpointRow>(
    'select tree_size, root_hash, created_at, key_id, note from audit.checkpoints where log = $1 and tree_size = $2',
    [log, size],
  );
  return rows[0] ? present(rows[0]) : null;
}

export async function consistencyBetween(client: Client, from: number, to: number, log: string = MAIN_LOG) {
  await sealAll(client, log);
  const current = await treeSize(client, log);
  if (from > to)
    throw new AppError(400, 'invalid_range', 'from must not be greater than to.', { param: 'from' });
  if (to > current) {
    throw new AppError(400, 'size_too_large', `The log has ${current} sealed rows; to=${to} is beyond it.`, {
      param: 'to',
    });
  }
  const result = await withFetchedNodes(
    (nodes) => ({
      from_root: rootHash(nodes, from),
      to_root: rootHash(nodes, to),
      proof: consistencyProof(nodes, from, to),
    }),
    (refs) => fetchNodes(client, log, refs),
  );
  return {
    from,
    to,
    from_root: b64(result.from_root),
    to_root: b64(result.to_root),
    proof: result.proof.map(b64),
  };
}

const ROW_COLUMNS = `s.seq, s.prev_hash, s.row_hash, l.*`;

/**
 * Sealed rows in seq order from `fromSeq`, a page at a time. Pages are seq ranges, not LIMITs: seq
 * is gapless, so a range holds exactly a page, and the database never sorts more than one page
 * (with LIMIT and stale statistics it sorted every remaining row for each page: quadratic). The
 * next page is asked for before this one is handed out, so the database reads while the caller
 * hashes. A range that comes back short (a row missing) is not the end: the last seq decides.
 */
export async function* sealedRows(
  client: Client,
  log: string = MAIN_LOG,
  options: { fromSeq?: number; toSeq?: number; pageSize?: number } = {},
): AsyncGenerator<SealedRow[]> {
  const pageSize = options.pageSize ?? 10_000;
  const last = options.toSeq ?? (await treeSize(client, log));
  const page = (from: number) =>
    client
      .query<SealedRow>(
        `select ${ROW_COLUMNS} from audit.ledger_seq s join audit.action_logs l on l.id = s.entry_id
          where s.log = $1 and s.seq between $2 and $3
          order by s.seq`,
        [log, from, Math.min(last, from + pageSize - 1)],
      )
      .then((r) => r.rows);
  let from = options.fromSeq ?? 1;
  let next = from <= last ? page(from) : undefined;
  while (next) {
    const rows = await next;
    from += pageSize;
    next = from <= last ? page(from) : undefined;
    // Keep the prefetch from surfacing as an unhandled rejection if the caller stops early.
    next?.catch(() => undefined);
    if (rows.length) yield rows;
  }
}

/**
 * GET /v1/audit/verify: recomputes the chain and tree from every row and checks every checkpoint
 * (signature, root at its size), then that the stored tree nodes (what proofs are built from)
 * give the same roots and consistency proofs between consecutive checkpoints.
 * `fromSeq` (a log whose prefix was archived, `?from=`): the tree of the first fromSeq - 1 rows
 * comes from its stored right-edge nodes, and the rows from fromSeq on are recomputed onto it.
 * Checkpoints below it are checked by signature and, through the stored nodes, by consistency
 * with the later ones, whose roots the recomputed rows must give: a forged prefix node fails there.
 */
export async function verifyStoredLog(
  client: Client,
  settings: Settings,
  log: string = MAIN_LOG,
  options: { fromSeq?: number } = {},
): Promise<VerifyResult & { tree_size: number; from_seq: number }> {
  const key = await signingKey(settings);
  await sealAll(client, log).catch(() => undefined);
  const size = await treeSize(client, log);
  const fromSeq = Math.max(1, Math.min(options.fromSeq ?? 1, size + 1));
  const checkpoints = await allCheckpoints(client, log);
  const previous = previousKeys(settings);
  const verifier = await LedgerVerifier.create({
    ...(key ? { key, origin: originOf(settings, key, log) } : {}),
    previousKeys: previous,
    previousOrigins: previous.map((k) => originOf(settings, k, log)),
    checkpoints: checkpoints.map(
      (c): CheckpointToCheck => ({ note: c.note, source: 'log', tree_size: c.tree_size }),
    ),
    ...(fromSeq > 1 ? { start: await storedStart(client, log, fromSeq) } : {}),
  });
  for await (const page of sealedRows(client, log, { fromSeq })) {
    for (const row of page) if (!verifier.row(row)) break;
    if (verifier.done) break;
  }
  const verified = verifier.finish();
  const result = { ...verified, from_seq: fromSeq };
  if (!result.ok) return { ...result, tree_size: size };
  // The stored nodes (what proofs are built from): every checkpoint's root and a consistency proof
  // from the one before, all read in one query.
  const fromNodes = await withFetchedNodes(
    (nodes) =>
      checkpoints.map((c, i) => {
        try {
          const root = rootHash(nodes, c.tree_size);
          const prev = checkpoints[i - 1];
          const proof = prev ? consistencyProof(nodes, prev.tree_size, c.tree_size) : [];
          return { root, proof };
        } catch (err) {
          if (err instanceof MissingNodeError) return null;
          throw err;
        }
      }),
    (refs) => fetchNodes(client, log, refs),
  );
  for (const [i, c] of checkpoints.entries()) {
    const stored = fromNodes[i];
    if (!stored || toBase64(stored.root) !== c.root_hash) {
      return badNodes(result, size, c.tree_size, 'the stored tree nodes do not give this checkpoint root');
    }
    const prev = checkpoints[i - 1];
    if (
      prev &&
      !verifyConsistency(prev.tree_size, c.tree_size, stored.proof, fromBase64(prev.root_hash), stored.root)
    ) {
      return badNodes(result, size, c.tree_size, `no consistency proof from ${prev.tree_size}`);
    }
  }
  const head = await storedRoot(client, log, size).catch(() => undefined);
  if (!head) return badNodes(result, size, size, 'the stored tree nodes are incomplete');
  return { ...result, tree_size: size };
}

/** Where a verification from `fromSeq` starts: the previous row's hash and the stored right edge. */
async function storedStart(client: Client, log: string, fromSeq: number): Promise<SegmentStart> {
  const frontier = await withFetchedNodes(
    (nodes) => frontierOf(nodes, fromSeq - 1),
    (refs) => fetchNodes(client, log, refs),
  );
  const { rows } = await client.query<{ row_hash: string }>(
    'select row_hash from audit.ledger_seq where log = $1 and seq = $2',
    [log, fromSeq - 1],
  );
  // Without the previous seq row (archived too), the first row's own prev_hash is taken as the
  // link; the tree (checked against signed roots) still covers every row's content.
  const prev =
    rows[0]?.row_hash ??
    (
      await client.query<{ prev_hash: string }>(
        'select prev_hash from audit.ledger_seq where log = $1 and seq = $2',
        [log, fromSeq],
      )
    ).rows[0]?.prev_hash ??
    GENESIS_HASH;
  return { seq: fromSeq, prevHash: prev, tree: CompactTree.fromFrontier(frontier, fromSeq - 1) };
}

function badNodes<R extends VerifyResult>(result: R, size: number, at: number, reason: string) {
  return {
    ...result,
    ok: false,
    tree_size: size,
    first_bad_checkpoint: { tree_size: at, source: 'log' as const, reason },
  };
}

/**
 * POSTs a new checkpoint to LEDGER_WITNESS_URL: the note as text/plain, signed like the approval
 * webhook (`x-mas-signature: sha256=HMAC("<x-mas-timestamp>.<body>")`), and refused like it for
 * private targets (shared/approvals/webhook-url.ts). Failures are returned,
 * never thrown: the checkpoint exists either way and the next one is sent too.
 */
export async function sendToWitness(settings: Settings, note: string): Promise<string | null> {
  const url = settings.LEDGER_WITNESS_URL;
  if (!url) return null;
  // The approval webhook's rule: no loopback, link-local (cloud metadata) or private targets
  // unless allowed for local development.
  const refused = webhookUrlProblem(url, settings.LEDGER_WITNESS_ALLOW_PRIVATE);
  if (refused)
    return `LEDGER_WITNESS_URL refused: ${refused} (LEDGER_WITNESS_ALLOW_PRIVATE=true allows it locally)`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'x-mas-timestamp': timestamp,
  };
  if (settings.LEDGER_WITNESS_SECRET) {
    headers['x-mas-signature'] =
      `sha256=${await hmacHex(settings.LEDGER_WITNESS_SECRET, `${timestamp}.${note}`)}`;
  }
  try {
    return await withDeadline(5000, async (signal) => {
      const res = await fetch(url, { method: 'POST', headers, body: note, redirect: 'manual', signal });
      await res.body?.cancel();
      return res.ok ? null : `witness answered HTTP ${res.status}`;
    });
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
