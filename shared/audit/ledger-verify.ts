/**
 * Verification that trusts neither the database nor the gateway: recompute every row's chain hash
 * and the Merkle tree from the rows themselves, and check each signed checkpoint (its signature
 * and that its root is the recomputed root at its size). Checkpoints from outside (witness copies,
 * a checkpoint a client pinned) are checked the same way, so a log rebuilt from scratch, or one
 * whose checkpoints were deleted with the rows, fails against them. The same code runs in the
 * verify endpoint and in `npm run ledger -- verify` (no database, no gateway).
 */
import { canonicalEntry, chainHash, GENESIS_HASH, type HashedEntry } from './ledger-hash.ts';
import { openCheckpointNote, parseCheckpointNote, type VerifierKey } from './ledger-note.ts';
import { CompactTree, equalHash, leafHash, toBase64 } from './ledger-tree.ts';

export interface SealedRow extends Omit<HashedEntry, 'created_at'> {
  seq: number | string;
  created_at: Date | string;
  prev_hash: string;
  row_hash: string;
}

export type CheckpointSource = 'log' | 'witness' | 'trusted';

export interface CheckpointToCheck {
  note: string;
  source: CheckpointSource;
  /** The size the store filed it under (audit.checkpoints.tree_size); checked against the note. */
  tree_size?: number;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows whose hashes were recomputed. */
  checked: number;
  /** Checkpoints (of every source) found consistent with the rows. */
  checkpoints: number;
  first_bad?: { seq: number; id: string; reason: string };
  first_bad_checkpoint?: { tree_size: number; source: CheckpointSource; reason: string };
}

export interface SegmentStart {
  /** The first row's seq. */
  seq: number;
  /** The row_hash of row seq - 1 (the chain link the segment starts from). */
  prevHash: string;
  tree?: CompactTree;
}

interface Pending {
  size: number;
  note: string;
  source: CheckpointSource;
  root?: Uint8Array;
  problem?: string;
}

/**
 * Feed rows in seq order (`row`), then `finish`. Checkpoints are opened up front: a note that is
 * not signed by `key` is reported as the first bad checkpoint at its size.
 */
export class LedgerVerifier {
  #tree = new CompactTree();
  #prev = GENESIS_HASH;
  #expected: number;
  #pending: Pending[] = [];
  #result: VerifyResult = { ok: true, checked: 0, checkpoints: 0 };
  #done = false;

  private constructor(start: SegmentStart) {
    this.#expected = start.seq;
    this.#prev = start.prevHash;
    if (start.tree) this.#tree = start.tree;
  }

  /**
   * `start`: verify a segment (an export `--since`, or a log whose prefix was archived) from the
   * tree of seq - 1 rows, given by its right-edge subtrees. Checkpoints below it are checked by
   * signature only; the one at its size must match that tree's root.
   */
  static async create(options: {
    key?: VerifierKey;
    /** Keys the log was signed with before a rotation (a checkpoint may be signed by any). */
    previousKeys?: VerifierKey[];
    origin?: string;
    /** Origins of those earlier keys' checkpoints, when the origin changed with the key. */
    previousOrigins?: string[];
    checkpoints: CheckpointToCheck[];
    start?: SegmentStart;
  }): Promise<LedgerVerifier> {
    const v = new LedgerVerifier(options.start ?? { seq: 1, prevHash: GENESIS_HASH });
    const keys = options.key ? [options.key, ...(options.previousKeys ?? [])] : [];
    const origins = options.origin ? [options.origin, ...(options.previousOrigins ?? [])] : [];
    for (const c of options.checkpoints) v.#pending.push(await open(c, keys, origins));
    // Smallest size first; at one size a bad signature is reported before a good copy.
    v.#pending.sort((a, b) => a.size - b.size || Number(!a.problem) - Number(!b.problem));
    while (v.#pending[0] && v.#pending[0].size < v.#tree.size) {
      const c = v.#pending.shift()!;
      if (c.problem) {
        v.#fail({ first_bad_checkpoint: { tree_size: c.size, source: c.source, reason: c.problem } });
        return v;
      }
      v.#result.checkpoints++;
    }
    v.#checkDue();
    return v;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Checks one row; false once something is wrong (then stop feeding). */
  row(row: SealedRow): boolean {
    if (this.#done) return false;
    const seq = Number(row.seq);
    const bad = (reason: string) => {
      this.#fail({ first_bad: { seq, id: row.id, reason } });
      return false;
    };
    if (seq !== this.#expected) {
      this.#result.first_bad = {
        seq: this.#expected,
        id: '',
        reason: `seq ${this.#expected} is missing (next is ${seq})`,
      };
      this.#failWith();
      return false;
    }
    if (row.prev_hash !== this.#prev) return bad('prev_hash does not link to the previous row');
    const created = new Date(row.created_at).toISOString();
    const recomputed = chainHash(this.#prev, canonicalEntry({ ...row, created_at: created }));
    if (recomputed !== row.row_hash) return bad('row_hash does not match the row content');
    this.#prev = row.row_hash;
    this.#tree.push(leafHash(row.row_hash));
    this.#expected++;
    this.#result.checked++;
    return this.#checkDue();
  }

  /** After the last row: checkpoints beyond the rows mean rows were removed. */
  finish(): VerifyResult {
    if (!this.#done) {
      const beyond = this.#pending[0];
      if (beyond) {
        this.#fail({
          first_bad_checkpoint: {
            tree_size: beyond.size,
            source: beyond.source,
            reason: `signed for ${beyond.size} rows but the log has ${this.#tree.size}: rows were removed`,
          },
        });
      }
      this.#done = true;
    }
    return this.#result;
  }

  #checkDue(): boolean {
    while (this.#pending[0] && this.#pending[0].size <= this.#tree.size) {
      const c = this.#pending.shift()!;
      const problem =
        c.problem ??
        (c.root && !equalHash(c.root, this.#tree.root())
          ? `root ${toBase64(c.root)} is not the root of the rows (${toBase64(this.#tree.root())})`
          : undefined);
      if (problem) {
        this.#fail({ first_bad_checkpoint: { tree_size: c.size, source: c.source, reason: problem } });
        return false;
      }
      this.#result.checkpoints++;
    }
    return true;
  }

  #fail(extra: Partial<VerifyResult>): void {
    Object.assign(this.#result, extra);
    this.#failWith();
  }

  #failWith(): void {
    this.#result.ok = false;
    this.#done = true;
  }
}

async function open(c: CheckpointToCheck, keys: VerifierKey[], origins: string[]): Promise<Pending> {
  let size = c.tree_size ?? 0;
  try {
    const parsed = parseCheckpointNote(c.note);
    size = parsed.checkpoint.size;
    if (c.tree_size !== undefined && c.tree_size !== size) {
      return {
        size: c.tree_size,
        note: c.note,
        source: c.source,
        problem: `stored as size ${c.tree_size}, signed for ${size}`,
      };
    }
    if (origins.length && !origins.includes(parsed.checkpoint.origin)) {
      return {
        size,
        note: c.note,
        source: c.source,
        problem: `origin is ${parsed.checkpoint.origin}, not ${origins.join(' or ')}`,
      };
    }
    if (!keys.length) return { size, note: c.note, source: c.source, root: parsed.checkpoint.root };
    for (const key of keys) {
      const opened = await openCheckpointNote(c.note, key);
      if (opened) return { size, note: c.note, source: c.source, root: opened.root };
    }
    const names = keys.map((k) => `${k.name}+${k.keyId}`).join(' or ');
    return { size, note: c.note, source: c.source, problem: `not signed by ${names}` };
  } catch (err) {
    return { size, note: c.note, source: c.source, problem: `unreadable: ${(err as Error).message}` };
  }
}
