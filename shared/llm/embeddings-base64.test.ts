import { describe, expect, it } from 'vitest';
import { decodeFloat32Base64, encodeFloat32Base64, isCanonicalFloat32Base64 } from './embeddings-base64.ts';

// Values whose float32 bytes differ in every byte position, rounding, -0, a subnormal, the extremes.
const vector = [0.1, -2.5, 1 / 3, -0, 1e-40, 3.4e38, -123456.789, 1, 0];
const float32LE = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString('base64');

describe('encodeFloat32Base64', () => {
  it('is the little-endian float32 bytes in base64, as OpenAI and its SDKs have them', () => {
    expect(encodeFloat32Base64(vector)).toBe(float32LE(vector));
    // 1.0f = 0x3f800000, low byte first.
    expect(encodeFloat32Base64([1])).toBe(Buffer.from([0, 0, 0x80, 0x3f]).toString('base64'));
    expect(encodeFloat32Base64([])).toBe('');
  });

  it('keeps the padding of each length (1, 2 and 3 float32s: 4, 8 and 12 bytes)', () => {
    expect(encodeFloat32Base64([0.5])).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(encodeFloat32Base64([0.5, 0.5])).toMatch(/^[A-Za-z0-9+/]{11}=$/);
    expect(encodeFloat32Base64([0.5, 0.5, 0.5])).toMatch(/^[A-Za-z0-9+/]{16}$/);
  });

  it('a long vector comes out whole (no chunking seam)', () => {
    const long = Array.from({ length: 30_000 }, (_, i) => Math.sin(i));
    expect(encodeFloat32Base64(long)).toBe(float32LE(long));
  });
});

describe('decodeFloat32Base64', () => {
  it('reads back each float32, rounded as Float32Array rounds', () => {
    expect(decodeFloat32Base64(float32LE(vector))).toEqual(Array.from(new Float32Array(vector)));
    expect(Object.is(decodeFloat32Base64(float32LE([-0]))[0], -0)).toBe(true);
    expect(decodeFloat32Base64('')).toEqual([]);
  });

  it('takes what atob takes (whitespace, no padding) and refuses what is not base64 float32s', () => {
    const b64 = float32LE([0.5, 0.25]);
    expect(decodeFloat32Base64(`${b64.slice(0, 4)}\n${b64.slice(4).replace(/=+$/, '')}`)).toEqual([
      0.5, 0.25,
    ]);
    expect(() => decodeFloat32Base64('not base64!')).toThrow();
    // Three bytes: not a whole float32.
    expect(() => decodeFloat32Base64(Buffer.from([1, 2, 3]).toString('base64'))).toThrow(RangeError);
  });
});

describe('isCanonicalFloat32Base64', () => {
  it('holds for what encodeFloat32Base64 writes', () => {
    for (const v of [[], [0.5], [0.5, 1], vector])
      expect(isCanonicalFloat32Base64(encodeFloat32Base64(v))).toBe(true);
  });

  it.each([
    ['no padding', float32LE([0.5]).replace(/=+$/, '')],
    ['whitespace', ` ${float32LE([0.5])}`],
    ['a line break inside', `${float32LE([0.5, 1]).slice(0, 4)}\n${float32LE([0.5, 1]).slice(4)}`],
    // "AAAAAB==" decodes as "AAAAAA==" does (the last sextet's low bits are not data).
    ['non-zero unused bits', 'AAAAAB=='],
    ['not a whole float32', Buffer.from([1, 2, 3]).toString('base64')],
    ['not base64', 'AAAA!AA='],
    ['URL-safe alphabet', Buffer.from([0xfb, 0xff, 0xbf, 0xff]).toString('base64url')],
  ])('does not hold with %s', (_, text) => {
    expect(isCanonicalFloat32Base64(text)).toBe(false);
  });
});
