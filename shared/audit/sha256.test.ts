import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { paddedLength, sha256Bytes, sha256Hex } from './sha256.ts';

const nodeHex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// The ledger's hashes are stored and checked by the database too: they must be SHA-256 exactly.
describe('sha256 (the ledger hashes, without node:crypto)', () => {
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
});
