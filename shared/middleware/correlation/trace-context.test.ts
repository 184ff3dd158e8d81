import { describe, expect, it } from 'vitest';
import {
  formatTraceparent,
  isSaneCorrelationId,
  parseTraceparent,
  randomHex,
  randomUuid,
} from './trace-context.ts';

describe('parseTraceparent', () => {
  it('accepts a valid header, case-insensitively', () => {
    expect(parseTraceparent('00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
    });
  });

  it.each([
    ['empty', ''],
    ['all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['all-zero parent id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['non-hex', '00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01'],
    ['trailing junk', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'],
  ])('rejects %s', (_, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('round-trips what formatTraceparent writes', () => {
    const traceId = randomHex(16);
    const spanId = randomHex(8);
    expect(parseTraceparent(formatTraceparent(traceId, spanId))).toEqual({
      traceId,
      parentId: spanId,
      flags: '01',
    });
  });
});

describe('isSaneCorrelationId', () => {
  it.each(['req-12345678', 'a1b2c3d4', '4bf92f3577b34da6a3ce929d0e0e4736', 'agent.7:run_42-abc'])(
    'keeps %s',
    (id) => {
      expect(isSaneCorrelationId(id)).toBe(true);
    },
  );
  it.each([
    'short',
    'x'.repeat(129),
    'has space inside',
    'crlf\r\ninjected',
    'quote"inside1',
    '<script>alert(1)</script>',
  ])('refuses %j', (id) => {
    expect(isSaneCorrelationId(id)).toBe(false);
  });
});

describe('randomHex', () => {
  it('gives distinct hex ids of the asked length across refills of its pool', () => {
    // 16 bytes × 1,000 crosses the 4 KiB pool's end several times, also mid-id.
    const ids = Array.from({ length: 1000 }, (_, i) => randomHex(i % 3 === 0 ? 8 : 16));
    for (const [i, id] of ids.entries())
      expect(id).toMatch(i % 3 === 0 ? /^[0-9a-f]{16}$/ : /^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Every hex digit shows up: the bytes are not stuck (a pool never refilled would repeat ids).
    expect(new Set(ids.join('')).size).toBe(16);
  });
});

describe('randomUuid', () => {
  it('makes RFC 9562 version-4 UUIDs', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = randomUuid();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(500);
  });
});
