import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findKeyEntry, generateApiKey, parseApiKeysSecret, sha256Hex } from './api-keys.ts';

describe('API keys', () => {
  it('hashes with SHA-256 hex', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('parses MAS_API_KEYS entries separated by commas or newlines', async () => {
    const h1 = await sha256Hex('k1');
    const h2 = await sha256Hex('k2');
    expect(parseApiKeysSecret(`alice:approver:${h1},\n bot-7:agent:${h2}\n`)).toEqual([
      { id: 'alice', role: 'approver', hash: h1 },
      { id: 'bot-7', role: 'agent', hash: h2 },
    ]);
    expect(parseApiKeysSecret(undefined)).toEqual([]);
  });

  it('reads the agent ids bound to a key from an optional last field', async () => {
    const h = await sha256Hex('k');
    expect(parseApiKeysSecret(`planner-1:agent:${h}:billing-agent|ops-agent`)).toEqual([
      { id: 'planner-1', role: 'agent', hash: h, agents: ['billing-agent', 'ops-agent'] },
    ]);
  });

  it.each([
    ['unknown role', 'alice:root:'],
    ['short hash', 'alice:admin:abcd'],
    ['extra field', 'alice:admin:HASH:x:y'],
    ['bad bound agent id', 'alice:agent:HASH:ok|not ok'],
    ['bad id', 'al ice:admin:HASH'],
  ])('refuses an entry with %s, without echoing it', async (_, template) => {
    const entry = template.replace('HASH', await sha256Hex('k'));
    expect(() => parseApiKeysSecret(entry)).toThrow(/entry #1/);
    try {
      parseApiKeysSecret(entry);
    } catch (err) {
      expect((err as Error).message).not.toContain(entry);
    }
  });

  it('finds an entry by hash and compares in constant time', async () => {
    const entries = parseApiKeysSecret(`a:agent:${await sha256Hex('ka')},b:admin:${await sha256Hex('kb')}`);
    expect(findKeyEntry(entries, await sha256Hex('kb'))?.id).toBe('b');
    expect(findKeyEntry(entries, await sha256Hex('kc'))).toBeUndefined();
  });

  it('matches exactly what a string comparison of the digests would', async () => {
    const hashes = await Promise.all(['ka', 'kb', 'kc', 'kd'].map((k) => sha256Hex(k)));
    const entries = parseApiKeysSecret(hashes.map((h, i) => `id${i}:agent:${h}`).join(','));
    const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
    // Near misses of a configured digest: one character changed, upper case, cut or lengthened.
    const nearMiss = fc
      .tuple(fc.constantFrom(...hashes), fc.nat(63), fc.constantFrom('0', 'f', 'A', 'g', ''))
      .map(([h, at, ch]) => h.slice(0, at) + ch + h.slice(at + 1));
    const presented = fc.oneof(
      fc.constantFrom(...hashes),
      hex,
      nearMiss,
      fc.constantFrom('', hashes[0]!.toUpperCase()),
    );
    fc.assert(
      fc.property(presented, (h) => {
        expect(findKeyEntry(entries, h)).toBe(entries.find((e) => e.hash === h));
      }),
    );
  });

  it('never matches an entry whose digest is not lower-case hex', () => {
    const upper = 'A'.repeat(64);
    const entries = [{ id: 'x', role: 'agent' as const, hash: upper }];
    expect(findKeyEntry(entries, upper)).toBeUndefined();
    // Decoded as 0xa… it must not stand in for the lower-case digest either.
    expect(findKeyEntry(entries, 'a'.repeat(64))).toBeUndefined();
  });

  it('generates distinct url-safe keys', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a).toMatch(/^mas_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });
});
