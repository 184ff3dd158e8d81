import { Buffer } from 'node:buffer';
import Counter from 'prom-client/lib/counter.js';
import Registry from 'prom-client/lib/registry.js';
import { describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../shared/audit/ledger-hash.ts';
import { leafHash, sha256 } from '../../shared/audit/ledger-tree.ts';
import { format, inspect } from '../../shared/metrics/prom-client-util.ts';

// Under workerd (nodejs_compat): node:util is loaded on first use through process.getBuiltinModule,
// not imported (shared/metrics/prom-client-util.ts); the ledger's SHA-256 is JavaScript for short
// inputs and loads node:crypto the same way for long ones (shared/audit/sha256.ts).
// Not in the counter's labelset (a plain record, so the compiler lets it through as prom-client would).
const unknownLabel: Record<string, string> = { nope: 'x' };

describe('built-ins loaded on first use, under workerd', () => {
  it('the util stand-in formats as node:util', () => {
    expect(format('Value is not a valid number: %s', Number.NaN)).toBe('Value is not a valid number: NaN');
    expect(format({ a: 1 })).toBe('{ a: 1 }');
    expect(inspect(['route', 'status'])).toBe("[ 'route', 'status' ]");
  });

  it("prom-client's errors are worded", () => {
    const counter = new Counter({
      name: 'c_total',
      help: 'h',
      labelNames: ['route'],
      registers: [new Registry()],
    });
    expect(() => counter.inc(unknownLabel)).toThrow(
      `Added label "nope" is not included in initial labelset: [ 'route' ]`,
    );
    expect(() => counter.inc('x' as unknown as number)).toThrow('Value is not a valid number: x');
  });

  it('the ledger hashes are SHA-256 (as crypto.subtle computes it)', async () => {
    expect(Buffer.from(sha256()).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(chainHash('', 'abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(chainHash(GENESIS_HASH, '{}')).toMatch(/^[0-9a-f]{64}$/);
    const leaf = new Uint8Array(33); // 0x00 || the genesis hash's 32 zero bytes
    const subtle = Buffer.from(await crypto.subtle.digest('SHA-256', leaf)).toString('hex');
    expect(Buffer.from(leafHash(GENESIS_HASH)).toString('hex')).toBe(subtle);
    // A long input takes the native path (node:crypto through process.getBuiltinModule).
    const long = 'é'.repeat(40_000);
    const longSubtle = await crypto.subtle.digest(
      'SHA-256',
      new TextEncoder().encode(`${GENESIS_HASH}${long}`),
    );
    expect(chainHash(GENESIS_HASH, long)).toBe(Buffer.from(longSubtle).toString('hex'));
  });
});
