import { describe, expect, it } from 'vitest';
import { timeOrderedUuid } from './entry-id.ts';

describe('timeOrderedUuid', () => {
  it('is a version 7, RFC 9562 variant UUID whose first 48 bits are the milliseconds', () => {
    const ms = Date.UTC(2026, 11, 1, 15, 20, 0, 123);
    const id = timeOrderedUuid(ms);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(ms);
  });

  it('sorts by time across milliseconds and differs within one', () => {
    const ids = [0, 1, 255, 256, 2 ** 32, 2 ** 40 + 7].map((d) => timeOrderedUuid(1_700_000_000_000 + d));
    expect([...ids].sort()).toEqual(ids);
    expect(timeOrderedUuid(5)).not.toBe(timeOrderedUuid(5));
  });
});
