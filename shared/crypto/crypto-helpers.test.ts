import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../db/keyset-cursor.ts';
import { base64urlDecode, base64urlEncode, randomBase64url } from './base64url.ts';
import { constantTimeEqual } from './constant-time.ts';

describe('constantTimeEqual', () => {
  it('is true only for equal strings', () => {
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abcd', 'abcd')).toBe(true);
    expect(constantTimeEqual('abcd', 'abce')).toBe(false);
    expect(constantTimeEqual('abcd', 'bbcd')).toBe(false);
    expect(constantTimeEqual('abcd', 'abc')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    // Code units beyond Latin-1 differ in their high bits only.
    expect(constantTimeEqual('\u0100', '\u0000')).toBe(false);
    expect(constantTimeEqual('é', 'é')).toBe(true);
  });

  it('agrees with === on any pair', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)));
    fc.assert(fc.property(fc.string(), (a) => constantTimeEqual(a, a)));
  });
});

describe('base64url', () => {
  it('matches Node’s base64url on any bytes, and round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base64urlEncode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
        expect([...base64urlDecode(text)]).toEqual([...bytes]);
      }),
    );
  });

  it('encodes strings as UTF-8 and long inputs whole', () => {
    expect(base64urlEncode('ü?>')).toBe(Buffer.from('ü?>').toString('base64url'));
    const big = randomBytes(200_000);
    expect(base64urlEncode(big)).toBe(big.toString('base64url'));
  });

  it('accepts padding and refuses what is not base64url', () => {
    expect(new TextDecoder().decode(base64urlDecode('YQ=='))).toBe('a');
    for (const bad of ['a+b/', 'ab c', 'a', 'abcde', '%%']) {
      expect(() => base64urlDecode(bad), bad).toThrow(RangeError);
    }
  });

  it('makes random tokens of the asked length', () => {
    const a = randomBase64url(32);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomBase64url(32)).not.toBe(a);
    expect(base64urlDecode(a)).toHaveLength(32);
  });
});

describe('keyset cursors', () => {
  const at = new Date('2026-12-01T14:00:00.123Z');
  const id = '0b9e5a4c-6f2e-4d7a-9d0f-3c1b2a4e5f60';

  it('are base64url and decode back', () => {
    const cursor = encodeCursor(at, id);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual([at.toISOString(), id]);
  });

  it('decode those handed out before as unpadded base64 (the same text), and refuse junk with a 400', () => {
    const old = btoa(`${at.toISOString()}|${id}`).replace(/=+$/, '');
    expect(decodeCursor(old)).toEqual([at.toISOString(), id]);
    expect(() => decodeCursor('not a cursor')).toThrow(/cursor/);
    expect(() => decodeCursor(base64urlEncode('2026|x'))).toThrow(/cursor/);
  });
});
