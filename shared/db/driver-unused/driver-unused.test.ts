import { describe, expect, it } from 'vitest';
import largeObject from './large.ts';
import { crypto, net, setImmediate, tls } from './polyfills.ts';
import Stream from './stream.ts';
import Subscribe from './subscribe.ts';

// What the deployed bundles carry in place of postgres.js's replication and large-object modules
// (wrangler.toml's alias; the npm start tests run the driver with them in the deploy bundle).
describe("postgres.js's left-out APIs", () => {
  it('building an instance builds no subscriber, and nothing for end() to wait on', () => {
    const subscribe = Subscribe();
    expect(typeof subscribe).toBe('function');
    expect((subscribe as { sql?: unknown }).sql).toBeUndefined();
  });

  it('a subscription or a large object throws, naming the API and where it went', () => {
    expect(() => Subscribe()()).toThrow(/subscribe API is not in this build.*driver-unused/);
    expect(() => largeObject()).toThrow(/largeObject API is not in this build.*driver-unused/);
  });

  it("the driver's own socket and TLS upgrade throw the same way; its crypto and timers are its own", () => {
    expect(() => new (net.Socket as unknown as new () => unknown)()).toThrow(
      /own socket .* not in this build/,
    );
    expect(() => tls.connect()).toThrow(/not in this build/);
    expect(() => net.isIP()).toThrow(/not in this build/);
    expect(typeof crypto.pbkdf2Sync).toBe('function');
    expect(typeof setImmediate).toBe('function');
  });

  it("a COPY's stream (the driver's only use of node:stream) throws, naming COPY and where it went", () => {
    for (const kind of ['Writable', 'Readable', 'Duplex'] as const) {
      expect(() => new Stream[kind]()).toThrow(
        new RegExp(`COPY \\(node:stream ${kind}\\) API is not in this build.*driver-unused`),
      );
    }
  });
});
