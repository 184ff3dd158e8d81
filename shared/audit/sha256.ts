/**
 * SHA-256 (FIPS 180-4), synchronous, for the ledger's hashes (ledger-hash.ts, ledger-tree.ts):
 * short inputs in plain JavaScript here, long ones by node:crypto, loaded on the first long one.
 *
 * Why not node:crypto for everything: under workerd, loading it (with the stream, buffer and
 * fs-stream internals its Hash class extends) was the largest single cost of the first request
 * that appends to the ledger (audit, mcp, proxy writes): ~20 ms of a profiled first tools/call and
 * ~330 KiB of young generation (bench:isolate-start --first real), and audit's start-up paid it
 * for EMPTY_ROOT. Almost every hash is short: a tree node or leaf (33-65 bytes: 3.8 µs here
 * against 7.9 through node:crypto's Hash object, Node 24), a chain row (~200 bytes: 12.4 against
 * 5.2, a few µs more per append and per verified row, bought so that appends load nothing).
 * Why not JavaScript for everything: its throughput is 3-15x below node:crypto's native code on
 * long inputs (64 KiB 1.1 ms vs 0.11 on Node 24), and an action's inputs may be 256 KiB (4 MiB for
 * audit_batch): those pay the built-in's one-time load instead. crypto.subtle is asynchronous,
 * and the ledger hashes are computed inside synchronous code.
 */
import type * as NodeCrypto from 'node:crypto';

/** From this many bytes on, node:crypto's native hash (loaded once) beats the JavaScript below. */
export const NATIVE_FROM_BYTES = 1024;

let nodeCrypto: typeof NodeCrypto | undefined;
/** `process.getBuiltinModule` (workerd with nodejs_compat, and Node), not an import: a bundle's
 * external imports are evaluated at isolate start however lazily their importers run. */
function native(): typeof NodeCrypto {
  nodeCrypto ??= process.getBuiltinModule('node:crypto');
  return nodeCrypto;
}

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const W = new Int32Array(64);
const encoder = new TextEncoder();

/**
 * The message, 0x80, zeros, and its bit length in the last 8 bytes of a 64-byte block: the
 * length rounded up past `length + 9` to a multiple of 64. In arithmetic, not `(length + 72) & ~63`:
 * a bitwise operator truncates to 32 signed bits, which from 2 GiB - 72 bytes gave a negative length.
 */
export function paddedLength(length: number): number {
  return Math.ceil((length + 9) / 64) * 64;
}

/** The SHA-256 of the parts, concatenated. */
export function sha256Bytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  if (length >= NATIVE_FROM_BYTES) {
    const hash = native().createHash('sha256');
    for (const p of parts) hash.update(p);
    return new Uint8Array(hash.digest());
  }
  return sha256Js(parts, length);
}

/** The JavaScript SHA-256 of the parts (`length` bytes in all). */
function sha256Js(parts: Uint8Array[], length: number): Uint8Array {
  const padded = new Uint8Array(paddedLength(length));
  let at = 0;
  for (const p of parts) {
    padded.set(p, at);
    at += p.length;
  }
  padded[length] = 0x80;
  const end = padded.length;
  const high = Math.floor(length / 0x20000000);
  const low = (length << 3) >>> 0;
  padded[end - 8] = high >>> 24;
  padded[end - 7] = high >>> 16;
  padded[end - 6] = high >>> 8;
  padded[end - 5] = high;
  padded[end - 4] = low >>> 24;
  padded[end - 3] = low >>> 16;
  padded[end - 2] = low >>> 8;
  padded[end - 1] = low;

  let h0 = 0x6a09e667;
  let h1 = 0xbb67ae85 | 0;
  let h2 = 0x3c6ef372;
  let h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f;
  let h5 = 0x9b05688c | 0;
  let h6 = 0x1f83d9ab;
  let h7 = 0x5be0cd19;
  for (let block = 0; block < end; block += 64) {
    for (let i = 0, j = block; i < 16; i++, j += 4) {
      W[i] = (padded[j]! << 24) | (padded[j + 1]! << 16) | (padded[j + 2]! << 8) | padded[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]!;
      const w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  const out = new Uint8Array(32);
  const words = [h0, h1, h2, h3, h4, h5, h6, h7];
  for (let i = 0; i < 8; i++) {
    const w = words[i]!;
    out[4 * i] = w >>> 24;
    out[4 * i + 1] = w >>> 16;
    out[4 * i + 2] = w >>> 8;
    out[4 * i + 3] = w;
  }
  return out;
}

/** Two hex digits per byte value; made on the first hex digest, not at load. */
let hexPairs: string[] | undefined;

/** The SHA-256 of a string's UTF-8, as lowercase hex (what node:crypto's digest('hex') gives). */
export function sha256Hex(text: string): string {
  // A UTF-8 byte is at least one per UTF-16 unit: a text this long is long in bytes too.
  if (text.length >= NATIVE_FROM_BYTES)
    return native().createHash('sha256').update(text, 'utf8').digest('hex');
  const digest = sha256Bytes(encoder.encode(text));
  hexPairs ??= Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  let hex = '';
  for (let i = 0; i < 32; i++) hex += hexPairs[digest[i]!];
  return hex;
}
