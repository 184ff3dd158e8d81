import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBundle, DEPLOYMENTS } from '../../local/build-bundles.ts';

// What `npm run build` does: each function bundles alone, exactly as `wrangler deploy` would.
describe('each deployment bundles alone', () => {
  it.each(DEPLOYMENTS)(
    '%s',
    (deployment) => {
      const outRoot = join('.data', 'test-bundles');
      const size = buildBundle(deployment, outRoot);
      expect(size.rawBytes).toBeGreaterThan(10_000);
      expect(size.gzipBytes).toBeLessThan(size.rawBytes);
      // Workers read no files at run time: the config YAML is inside the bundle.
      const bundle = readFileSync(join(outRoot, deployment, 'index.js'), 'utf8');
      expect(bundle).toContain('max_body_bytes');
      expect(existsSync(join(outRoot, deployment, 'index.js'))).toBe(true);
    },
    60_000,
  );
});
