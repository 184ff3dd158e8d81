/**
 * `npm run build`: bundles every deployment with `wrangler deploy --dry-run` (exactly what a
 * deploy would upload) and prints each bundle's size, raw and gzip.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const DEPLOYMENTS = [
  'all',
  'health',
  'ready',
  'chat',
  'messages',
  'embed',
  'audit',
  'approval',
  'proxy',
  'usage',
  'mcp',
] as const;

export interface BundleSize {
  deployment: string;
  rawBytes: number;
  gzipBytes: number;
}

export function buildBundle(deployment: string, outRoot = 'dist'): BundleSize {
  const outdir = join(outRoot, deployment);
  rmSync(outdir, { recursive: true, force: true });
  const args = ['deploy', '--dry-run', '--outdir', outdir];
  if (deployment !== 'all') args.push('--env', deployment);
  const result = spawnSync('wrangler', args, {
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) {
    throw new Error(`wrangler deploy --dry-run for ${deployment} failed:\n${result.stderr || result.stdout}`);
  }
  let raw = 0;
  let gzip = 0;
  for (const file of readdirSync(outdir)) {
    const path = join(outdir, file);
    if (!statSync(path).isFile() || file.endsWith('.map') || file === 'README.md') continue;
    const bytes = readFileSync(path);
    raw += bytes.byteLength;
    gzip += gzipSync(bytes, { level: 9 }).byteLength;
  }
  return { deployment, rawBytes: raw, gzipBytes: gzip };
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

if (import.meta.main) {
  const only = process.argv.slice(2);
  const targets = only.length ? only : DEPLOYMENTS;
  console.log('deployment   raw          gzip');
  let failed = false;
  for (const deployment of targets) {
    try {
      const size = buildBundle(deployment);
      console.log(`${deployment.padEnd(12)} ${kib(size.rawBytes).padEnd(12)} ${kib(size.gzipBytes)}`);
    } catch (err) {
      failed = true;
      console.error((err as Error).message);
    }
  }
  process.exitCode = failed ? 1 : 0;
}
