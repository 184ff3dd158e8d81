/**
 * Signed checkpoints: a C2SP tlog-checkpoint body inside a C2SP signed note, signed with Ed25519
 * through WebCrypto (workerd, Deno and Node all have it). Keys use the Go `sumdb/note` text
 * forms transparency-log tooling reads:
 *   signer   PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || 32-byte seed)>
 *   verifier <name>+<key id hex>+<base64(0x01 || 32-byte public key)>
 * key id = first 4 bytes of sha256(name || 0x0A || 0x01 || public key).
 */
import { fromBase64, type Hash, sha256, toBase64, toHex } from './ledger-tree.ts';

const ED25519 = 0x01;
const DASH = '\u2014';
/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): WebCrypto imports private keys only so. */
const PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const encoder = new TextEncoder();

export interface VerifierKey {
  name: string;
  keyId: string;
  publicKey: Uint8Array;
  /** The text form, as served at GET /v1/audit/public-key. */
  text: string;
}

export interface SignerKey extends VerifierKey {
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export class LedgerKeyError extends Error {
  override name = 'LedgerKeyError';
}

function keyId(name: string, publicKey: Uint8Array): string {
  return toHex(sha256(encoder.encode(`${name}\n`), new Uint8Array([ED25519]), publicKey).slice(0, 4));
}

function checkName(name: string): void {
  if (!name || /[\s+]/u.test(name))
    throw new LedgerKeyError('a key name must be non-empty, without spaces or "+"');
}

function verifierText(name: string, publicKey: Uint8Array): string {
  return `${name}+${keyId(name, publicKey)}+${toBase64(new Uint8Array([ED25519, ...publicKey]))}`;
}

/** Splits at the first `n - 1` pluses: the base64 at the end may hold '+' itself (as Go's note does). */
function chop(text: string, n: number): string[] {
  const parts = text.trim().split('+');
  return parts.length < n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join('+')];
}

export function parseVerifierKey(text: string): VerifierKey {
  const parts = chop(text, 3);
  if (parts.length !== 3) throw new LedgerKeyError('a public key looks like <name>+<key id>+<base64>');
  const [name, id, b64] = parts as [string, string, string];
  checkName(name);
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    throw new LedgerKeyError('the public key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== ED25519) throw new LedgerKeyError('not an Ed25519 public key');
  const publicKey = raw.slice(1);
  if (keyId(name, publicKey) !== id.toLowerCase())
    throw new LedgerKeyError('the key id does not match the key');
  return { name, keyId: id.toLowerCase(), publicKey, text: verifierText(name, publicKey) };
}

/** LEDGER_SIGNING_KEY: the signer form above. The public key is derived from it. */
export async function parseSignerKey(text: string): Promise<SignerKey> {
  const parts = chop(text, 5);
  if (parts.length !== 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') {
    throw new LedgerKeyError('LEDGER_SIGNING_KEY looks like PRIVATE+KEY+<name>+<key id>+<base64>');
  }
  const [, , name, id, b64] = parts as [string, string, string, string, string];
  checkName(name);
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    throw new LedgerKeyError('LEDGER_SIGNING_KEY is not base64');
  }
  if (raw.length !== 33 || raw[0] !== ED25519)
    throw new LedgerKeyError('LEDGER_SIGNING_KEY is not an Ed25519 key');
  const key = await crypto.subtle.importKey(
    'pkcs8',
    new Uint8Array([...PKCS8_PREFIX, ...raw.slice(1)]),
    { name: 'Ed25519' },
    true,
    ['sign'],
  );
  const jwk = (await crypto.subtle.exportKey('jwk', key)) as JsonWebKey;
  if (!jwk.x) throw new LedgerKeyError('cannot derive the public key');
  const publicKey = fromBase64(jwk.x.replace(/-/g, '+').replace(/_/g, '/').padEnd(44, '='));
  if (keyId(name, publicKey) !== id.toLowerCase()) {
    throw new LedgerKeyError('LEDGER_SIGNING_KEY: the key id does not match the key');
  }
  return {
    name,
    keyId: id.toLowerCase(),
    publicKey,
    text: verifierText(name, publicKey),
    sign: async (message) => new Uint8Array(await crypto.subtle.sign('Ed25519', key, message)),
  };
}

/** A new key pair in both text forms (`npm run keys -- ledger-keygen`, `npm start`). */
export async function generateSignerKey(name: string): Promise<{ signer: string; verifier: string }> {
  checkName(name);
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey('pkcs8', pair.privateKey)) as ArrayBuffer);
  const seed = pkcs8.slice(pkcs8.length - 32);
  const publicKey = new Uint8Array((await crypto.subtle.exportKey('raw', pair.publicKey)) as ArrayBuffer);
  const id = keyId(name, publicKey);
  return {
    signer: `PRIVATE+KEY+${name}+${id}+${toBase64(new Uint8Array([ED25519, ...seed]))}`,
    verifier: verifierText(name, publicKey),
  };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
  /** Extension line `time <RFC 3339>`: when the log signed it. */
  time: string;
}

/** The tlog-checkpoint text: origin, size, base64 root, then our time extension line. */
export function checkpointBody(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${toBase64(c.root)}\ntime ${c.time}\n`;
}

export async function signCheckpoint(c: Checkpoint, key: SignerKey): Promise<string> {
  const body = checkpointBody(c);
  const sig = await key.sign(encoder.encode(body));
  const id = Uint8Array.from(key.keyId.match(/../g)!.map((b) => Number.parseInt(b, 16)));
  return `${body}\n${DASH} ${key.name} ${toBase64(new Uint8Array([...id, ...sig]))}\n`;
}

export interface OpenedNote {
  checkpoint: Checkpoint;
  body: string;
  /** Key names of the signature lines, verified or not. */
  signers: string[];
}

/** Parses a signed checkpoint without checking any signature (for reporting what it claims). */
export function parseCheckpointNote(note: string): OpenedNote {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new LedgerKeyError('not a signed note');
  const body = note.slice(0, split + 1);
  const lines = body.slice(0, -1).split('\n');
  const [origin, size, root, ...ext] = lines;
  if (!origin || !size || !/^\d+$/.test(size) || !root) throw new LedgerKeyError('not a checkpoint');
  const rootBytes = fromBase64(root);
  if (rootBytes.length !== 32) throw new LedgerKeyError('checkpoint root is not 32 bytes');
  const time = ext.find((l) => l.startsWith('time '))?.slice(5) ?? '';
  const signers = note
    .slice(split + 2)
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[1] ?? '');
  return { checkpoint: { origin, size: Number(size), root: rootBytes, time }, body, signers };
}

/**
 * Opens a signed note with `key`: the checkpoint when a signature line of that key (name and
 * key id) verifies; null when none does. A line of the key that fails rejects the note.
 */
export async function openCheckpointNote(note: string, key: VerifierKey): Promise<Checkpoint | null> {
  let opened: OpenedNote;
  try {
    opened = parseCheckpointNote(note);
  } catch {
    return null;
  }
  const sigLines = note
    .slice(note.lastIndexOf('\n\n') + 2)
    .split('\n')
    .filter(Boolean);
  const publicKey = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, [
    'verify',
  ]);
  for (const line of sigLines) {
    const [dash, name, b64] = line.split(' ');
    if (dash !== DASH || name !== key.name || !b64) continue;
    let raw: Uint8Array;
    try {
      raw = fromBase64(b64);
    } catch {
      return null;
    }
    if (raw.length !== 68 || toHex(raw.slice(0, 4)) !== key.keyId) continue;
    const ok = await crypto.subtle.verify('Ed25519', publicKey, raw.slice(4), encoder.encode(opened.body));
    return ok ? opened.checkpoint : null;
  }
  return null;
}
