import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildBundle, DEPLOYMENTS } from '../../local/build-bundles.ts';

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

// What `npm run build` does: each function bundles alone, exactly as `wrangler deploy` would.
describe('each deployment bundles alone', () => {
  it.each(DEPLOYMENTS)(
    '%s',
    (deployment) => {
      const outRoot = join('.data', 'test-bundles');
      const size = buildBundle(deployment, outRoot);
      expect(size.rawBytes).toBeGreaterThan(10_000);
      expect(size.gzipBytes).toBeLessThan(size.rawBytes);
      // The metafile names what takes the room: our own code is among the contributors.
      expect(size.contributors.some((c) => c.name.startsWith('shared/'))).toBe(true);
      const bundle = readFileSync(join(outRoot, deployment, 'index.js'), 'utf8');
      // Workers read no files at run time: the config YAML is inside the bundle, compiled.
      expect(Object.keys(limits).length).toBeGreaterThan(1);
      expect(compiledLimits.test(bundle), String(compiledLimits)).toBe(true);
    },
    60_000,
  );
});
