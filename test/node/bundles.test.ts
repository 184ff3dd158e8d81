import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildBundle, DEPLOYMENTS, targetKiB } from '../../local/build-bundles.ts';

// config/gateway.yaml's body limits as the bundle must carry them: the per-function entries exist
// only in the YAML (the schema's default has none), so finding them shows the config is inside.
const limits = (
  parse(readFileSync('config/gateway.yaml', 'utf8')) as {
    http: { max_body_bytes: Record<string, number> };
  }
).http.max_body_bytes;
const compiledLimits = new RegExp(
  Object.entries(limits)
    .map(([k, v]) => `"?${k}"?:\\s*${v}`)
    .join(',\\s*'),
);

// Issue #23's targets (targetKiB: health 30, chat 120, every other function 80). A deployment that
// meets its target is held to it; the others are held where the dependency diet has got them so
// far (a ratchet: lower a ceiling when a bundle shrinks, never raise one without saying why).
const CEILING_KIB: Record<string, number> = {
  // 158 -> 159: the non-stream answers sent as the upstream text (upstream-text.ts, the embed
  // float spans) and the circuit gauge in its own module, which every function but chat dropped.
  // 159 -> 157: postgres.js's replication and large-object modules aliased away (158.6 -> 156.7).
  // 157 -> 158: the session's per-request work since (the MAS_API_KEYS digests as words, d4caee6;
  // per-scope budget caches, 4ec2bc3; translated streams' one-piece writes, 2851ba9...) took it
  // to 157.7; 157 had left 0.3 KiB.
  // 158 -> 159: the pipeline's memo router, cors and in-place metric series (12e11b0, e59c8f6,
  // 45e6640, 119b9d5, b87ae19) add 1,685 bytes raw, 0.62 KiB gzip: 157.98 -> 158.60.
  // 159 -> 160: Postgres TLS on Node for the deploy bundle run under node/serve.mjs (node-socket.ts:
  // node:tls after the SSLRequest, libpq's sslmode and sslrootcert) is in every bundle that talks
  // to Postgres: 158.37 -> 159.10 (+1,757 bytes raw, +0.73 KiB gzip).
  // 160 -> 161: upstream answers bounded (readCappedText, stream events held in pieces up to
  // max_response_bytes), the breaker's background sync and the stream's deferred count (llmio,
  // session 7): 159.86 -> 160.74 on main a666726 (+2,563 bytes raw, +0.88 KiB gzip); chat 85.4,
  // messages 76.1, mcp 78.6 and embed 73.9 still within their targets.
  // 161 -> 162: session 8's callLimit and lean answers took main to ~160.9; node:stream aliased
  // to shared/db/driver-unused/stream.ts (its COPY streams) adds its throwing stand-in in place
  // of an external import: 161.05 (bought for isolate start: workerd's node:stream no longer
  // loads with the bundle).
  // 162 -> 164: the ledger's SHA-256 in plain JavaScript (shared/audit/sha256.ts, ~1.1 KiB gzip)
  // in place of node:crypto, which workerd loaded at audit's start-up and on mcp's first
  // tools/call: 163.23 (bought for isolate start; mcp is 78.9, within its 80).
  all: 164, // every function and the docs on one origin: no target of its own
  // Every function deployment meets its target since the Neon driver and js-yaml (the MAS_*_YAML
  // overrides are JSON in a Worker: shared/config/override.ts) and the MCP SDK left, and is held
  // to it.
};

// What `npm run build` does: each function bundles alone, exactly as `wrangler deploy` would.
describe('each deployment bundles alone', () => {
  it.each(DEPLOYMENTS)(
    '%s',
    (deployment) => {
      const outRoot = join('.data', 'test-bundles');
      const size = buildBundle(deployment, outRoot);
      expect(size.rawBytes).toBeGreaterThan(10_000);
      expect(size.gzipBytes).toBeLessThan(size.rawBytes);
      const target = targetKiB(deployment);
      const limit = CEILING_KIB[deployment] ?? target ?? Number.POSITIVE_INFINITY;
      expect(size.gzipBytes / 1024, `${deployment} gzip KiB (target ${target})`).toBeLessThanOrEqual(limit);
      // The metafile names what takes the room: our own code is among the contributors.
      expect(size.contributors.some((c) => c.name.startsWith('shared/'))).toBe(true);
      const bundle = readFileSync(join(outRoot, deployment, 'index.js'), 'utf8');
      // Workers read no files at run time: the config YAML is inside the bundle, compiled.
      expect(Object.keys(limits).length).toBeGreaterThan(1);
      expect(compiledLimits.test(bundle), String(compiledLimits)).toBe(true);
      // ...and parse none: the MAS_*_YAML overrides are JSON in a Worker (shared/config/override.ts).
      expect(size.contributors.map((c) => c.name)).not.toContain('js-yaml');
      expectDriverAliases(join(outRoot, `${deployment}.meta.json`));
      expectNoEagerBuiltins(join(outRoot, `${deployment}.meta.json`), bundle);
    },
    60_000,
  );
});

/**
 * wrangler.toml's [alias] keys are import paths matched exactly, whoever imports them: only
 * postgres.js may import them (its unused replication, large-object, socket and COPY-stream code,
 * replaced by shared/db/driver-unused/), and the driver's replication and large-object modules
 * must be gone from the bundle (its polyfills stay, re-exported in part by ours).
 */
const DRIVER_ALIASES: Record<string, string> = {
  './subscribe.js': 'shared/db/driver-unused/subscribe.ts',
  './large.js': 'shared/db/driver-unused/large.ts',
  '../polyfills.js': 'shared/db/driver-unused/polyfills.ts',
  'node:stream': 'shared/db/driver-unused/stream.ts',
};
function expectDriverAliases(metafile: string) {
  const { inputs } = JSON.parse(readFileSync(metafile, 'utf8')) as {
    inputs: Record<string, { imports: Array<{ path: string; original?: string }> }>;
  };
  const aliased = new Set<string>();
  for (const [input, { imports }] of Object.entries(inputs)) {
    expect(input).not.toMatch(/postgres\/cf\/src\/(subscribe|large)\.js$/);
    for (const { path, original } of imports) {
      if (original === undefined || !(original in DRIVER_ALIASES)) continue;
      expect(input, `${input} imports ${original}`).toMatch(/^node_modules\/postgres\/cf\/src\//);
      expect(path).toBe(DRIVER_ALIASES[original]);
      aliased.add(original);
    }
  }
  const driver = 'node_modules/postgres/cf/src/index.js' in inputs;
  expect([...aliased].sort()).toEqual(driver ? Object.keys(DRIVER_ALIASES).sort() : []);
}

/**
 * node:util and node:crypto are loaded on first use (process.getBuiltinModule; node:crypto only for
 * a long input to the ledger's SHA-256, shared/audit/sha256.ts), never imported by a bundle: an external import is
 * evaluated at isolate start, and workerd's allocate ~240 and ~330 KiB of young generation there.
 * prom-client's `require('util')` is aliased to its stand-in (shared/metrics/prom-client-util.ts),
 * and only prom-client may import `util`.
 */
const EAGER_BUILTINS = ['util', 'node:util', 'crypto', 'node:crypto'];
function expectNoEagerBuiltins(metafile: string, bundle: string) {
  const { inputs } = JSON.parse(readFileSync(metafile, 'utf8')) as {
    inputs: Record<string, { imports: Array<{ path: string; external?: boolean; original?: string }> }>;
  };
  let aliased = 0;
  for (const [input, { imports }] of Object.entries(inputs)) {
    for (const { path, external, original } of imports) {
      if (external)
        expect(EAGER_BUILTINS, `${input} imports ${path}`).not.toContain(
          path.replace(/^node-built-in-modules:/, ''),
        );
      if (original !== 'util') continue;
      expect(input, `${input} imports util`).toMatch(/^node_modules\/prom-client\/lib\//);
      expect(path).toBe('shared/metrics/prom-client-util.ts');
      aliased++;
    }
  }
  const promClient = Object.keys(inputs).some((i) => i.startsWith('node_modules/prom-client/lib/'));
  expect(aliased > 0).toBe(promClient);
  // ...nor does the bundle's text (an import or require the metafile might not name).
  for (const name of EAGER_BUILTINS) {
    expect(bundle).not.toMatch(new RegExp(`(?:from|import|require)\\s*\\(?\\s*["']${name}["']`));
  }
}
