import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { NATIVE_FROM_BYTES, paddedLength, sha256Bytes, sha256Hex } from './sha256.ts';

const nodeHex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// The ledger's hashes are stored and checked by the database too: they must be SHA-256 exactly.
describe('sha256 (the ledger hashes: short in JavaScript, long by node:crypto)', () => {
  it("gives FIPS 180-4's vectors", () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(sha256Hex('a'.repeat(1_000_000))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('matches node:crypto on every length across the padding boundaries, in one part or several', () => {
    for (let length = 0; length <= 300; length++) {
      const data = randomBytes(length);
      expect(hex(sha256Bytes(data)), `length ${length}`).toBe(nodeHex(data));
      const cut = Math.floor(length / 3);
      expect(
        hex(sha256Bytes(data.subarray(0, cut), data.subarray(cut, 2 * cut), data.subarray(2 * cut))),
      ).toBe(nodeHex(data));
    }
  });

  it("hashes a string's UTF-8, as node:crypto's update(text, 'utf8')", () => {
    for (const text of ['héllo', '日本語のテキスト', '🙂 emoji', '\u0000nul', 'x'.repeat(119)]) {
      expect(sha256Hex(text)).toBe(nodeHex(text));
    }
  });

  it('pads to the next 64-byte block with room for 0x80 and the bit length, past 2 GiB too', () => {
    expect([0, 55, 56, 63, 64, 119, 120].map(paddedLength)).toEqual([64, 64, 128, 128, 128, 128, 192]);
    // Past 32-bit arithmetic: hashing such an input here would need gigabytes.
    expect(paddedLength(2 ** 31 - 60)).toBe(2 ** 31);
    expect(paddedLength(2 ** 31)).toBe(2 ** 31 + 64);
    expect(paddedLength(2 ** 32 + 100)).toBe(2 ** 32 + 128);
  });

  it('gives the same hash on both sides of the JavaScript/native boundary, bytes and text', () => {
    for (let length = NATIVE_FROM_BYTES - 70; length <= NATIVE_FROM_BYTES + 70; length++) {
      const data = randomBytes(length);
      expect(hex(sha256Bytes(data)), `length ${length}`).toBe(nodeHex(data));
      const cut = Math.floor(length / 2);
      expect(hex(sha256Bytes(data.subarray(0, cut), data.subarray(cut)))).toBe(nodeHex(data));
      const text = data.toString('latin1');
      expect(sha256Hex(text), `text ${length}`).toBe(nodeHex(text));
    }
    const wide = 'é'.repeat(NATIVE_FROM_BYTES - 10); // fewer units than the bound, more bytes
    expect(sha256Hex(wide)).toBe(nodeHex(wide));
  });

  it('loads node:crypto only for a long input, and once', async () => {
    vi.resetModules();
    const load = vi.spyOn(process, 'getBuiltinModule');
    try {
      const fresh = await import('./sha256.ts');
      fresh.sha256Bytes(new Uint8Array(65));
      fresh.sha256Hex('x'.repeat(NATIVE_FROM_BYTES - 1));
      expect(load.mock.calls.filter(([id]) => String(id).includes('crypto'))).toHaveLength(0);
      fresh.sha256Bytes(new Uint8Array(NATIVE_FROM_BYTES));
      fresh.sha256Hex('y'.repeat(NATIVE_FROM_BYTES));
      expect(load.mock.calls.filter(([id]) => String(id).includes('crypto'))).toHaveLength(1);
    } finally {
      load.mockRestore();
    }
  });
});
