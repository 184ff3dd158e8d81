/**
 * The RFC 6962 Merkle tree over the ledger (section 2.1; verification as RFC 9162 2.1.3-2.1.4).
 * Pure functions over hashes: the database stores every complete subtree (level, idx), and a
 * proof reads at most ~2·log2(n) of them through a `NodeSource`.
 */
import { Buffer } from 'node:buffer';
import { sha256Bytes } from './sha256.ts';

export type Hash = Uint8Array;

export function sha256(...parts: Uint8Array[]): Hash {
  return sha256Bytes(...parts);
}

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

/** Leaf hash of a ledger row: sha256(0x00 || row_hash bytes), row_hash being the chain hash. */
export function leafHash(rowHashHex: string): Hash {
  return sha256(LEAF, fromHex(rowHashHex));
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return sha256(NODE, left, right);
}

// Pure: bundles that append to the ledger but never build trees (approval, proxy) drop it.
export const EMPTY_ROOT: Hash = /* @__PURE__ */ sha256();

/** Reads the stored hash of complete subtree (level, idx): leaves [idx·2^level, (idx+1)·2^level). */
export type NodeSource = (level: number, idx: number) => Hash;

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/** MTH(D[start : start+size]) from stored complete subtrees (start is aligned as in RFC 6962). */
export function subtreeHash(nodes: NodeSource, start: number, size: number): Hash {
  if (size === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(size) && start % size === 0) return nodes(Math.log2(size), start / size);
  const k = splitPoint(size);
  return nodeHash(subtreeHash(nodes, start, k), subtreeHash(nodes, start + k, size - k));
}

export function rootHash(nodes: NodeSource, size: number): Hash {
  return subtreeHash(nodes, 0, size);
}

/** PATH(m, D[n]) of RFC 6962 2.1.1: the inclusion proof of leaf m in the tree of size n. */
export function inclusionProof(nodes: NodeSource, index: number, size: number): Hash[] {
  if (index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  const path: Hash[] = [];
  const walk = (m: number, start: number, n: number) => {
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, k);
      path.push(subtreeHash(nodes, start + k, n - k));
    } else {
      walk(m - k, start + k, n - k);
      path.push(subtreeHash(nodes, start, k));
    }
  };
  walk(index, 0, size);
  return path;
}

/** PROOF(m, D[n]) of RFC 6962 2.1.2: the consistency proof from size m to size n. */
export function consistencyProof(nodes: NodeSource, from: number, to: number): Hash[] {
  if (from < 0 || from > to) throw new RangeError(`cannot prove ${from} → ${to}`);
  if (from === 0 || from === to) return [];
  const proof: Hash[] = [];
  const sub = (m: number, start: number, n: number, complete: boolean) => {
    if (m === n) {
      if (!complete) proof.push(subtreeHash(nodes, start, n));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, k, complete);
      proof.push(subtreeHash(nodes, start + k, n - k));
    } else {
      sub(m - k, start + k, n - k, false);
      proof.push(subtreeHash(nodes, start, k));
    }
  };
  sub(from, 0, to, true);
  return proof;
}

/** RFC 9162 2.1.3.2: does `proof` put `leaf` at `index` of the tree with `root` and `size`? */
export function verifyInclusion(leaf: Hash, index: number, size: number, proof: Hash[], root: Hash): boolean {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalHash(r, root);
}

/** RFC 9162 2.1.4.2: does `proof` show the tree (from, fromRoot) is a prefix of (to, toRoot)? */
export function verifyConsistency(
  from: number,
  to: number,
  proof: Hash[],
  fromRoot: Hash,
  toRoot: Hash,
): boolean {
  if (from < 0 || from > to) return false;
  if (from === to) return proof.length === 0 && equalHash(fromRoot, toRoot);
  if (from === 0) return proof.length === 0 && equalHash(fromRoot, EMPTY_ROOT);
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalHash(fr, fromRoot) && equalHash(sr, toRoot);
}

/**
 * The tree built leaf by leaf in O(log n) memory (the perfect subtrees along its right edge), for
 * verifiers that recompute everything from the rows.
 */
export class CompactTree {
  #stack: Array<{ hash: Hash; size: number }> = [];
  size = 0;

  push(leaf: Hash): void {
    let node = { hash: leaf, size: 1 };
    for (let top = this.#stack.at(-1); top && top.size === node.size; top = this.#stack.at(-1)) {
      this.#stack.pop();
      node = { hash: nodeHash(top.hash, node.hash), size: top.size * 2 };
    }
    this.#stack.push(node);
    this.size++;
  }

  /** The tree of `size` leaves from its right-edge perfect subtrees, largest first (stored nodes). */
  static fromFrontier(frontier: Hash[], size: number): CompactTree {
    const t = new CompactTree();
    const sizes = frontierSizes(size);
    if (sizes.length !== frontier.length)
      throw new RangeError(`a tree of ${size} has ${sizes.length} edge subtrees`);
    t.#stack = sizes.map((s, i) => ({ hash: frontier[i]!, size: s }));
    t.size = size;
    return t;
  }

  /** The right-edge perfect subtrees (what fromFrontier takes back). */
  frontier(): Hash[] {
    return this.#stack.map((n) => n.hash);
  }

  root(): Hash {
    let r: Hash | undefined;
    for (let i = this.#stack.length - 1; i >= 0; i--) {
      const h = this.#stack[i]!.hash;
      r = r ? nodeHash(h, r) : h;
    }
    return r ?? EMPTY_ROOT;
  }
}

/** Sizes of the perfect subtrees along the right edge of a tree of `size` (its binary digits). */
function frontierSizes(size: number): number[] {
  const out: number[] = [];
  let rest = size;
  let bit = 1;
  while (bit * 2 <= rest) bit *= 2;
  for (; bit >= 1 && rest > 0; bit /= 2) {
    if (rest >= bit) {
      out.push(bit);
      rest -= bit;
    }
  }
  return out;
}

/** The right-edge perfect subtrees of the tree of `size`, read from stored nodes. */
export function frontierOf(nodes: NodeSource, size: number): Hash[] {
  let start = 0;
  return frontierSizes(size).map((s) => {
    const h = nodes(Math.log2(s), start / s);
    start += s;
    return h;
  });
}

/**
 * Which stored nodes a computation reads, so they can be fetched in one query: run `compute`
 * against a recording source, fetch, run again against the real one.
 */
export async function withFetchedNodes<T>(
  compute: (nodes: NodeSource) => T,
  fetch: (refs: Array<[level: number, idx: number]>) => Promise<Map<string, Hash>>,
): Promise<T> {
  const refs = new Map<string, [number, number]>();
  compute((level, idx) => {
    refs.set(`${level}:${idx}`, [level, idx]);
    return EMPTY_ROOT;
  });
  const fetched = refs.size ? await fetch([...refs.values()]) : new Map<string, Hash>();
  return compute((level, idx) => {
    const hash = fetched.get(`${level}:${idx}`);
    if (!hash) throw new MissingNodeError(level, idx);
    return hash;
  });
}

export class MissingNodeError extends Error {
  override name = 'MissingNodeError';
  readonly level: number;
  readonly idx: number;
  constructor(level: number, idx: number) {
    super(`tree node (${level}, ${idx}) is missing`);
    this.level = level;
    this.idx = idx;
  }
}

export function equalHash(a: Hash, b: Hash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function fromHex(hex: string): Uint8Array {
  return Buffer.from(hex, 'hex');
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
