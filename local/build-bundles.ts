/**
 * `npm run build`: bundles every deployment with `wrangler deploy --dry-run` (exactly what a
 * deploy would upload) and prints each bundle's size, raw and gzip, its issue #23 target and
 * whether it is met, and what takes the room: the top contributors by esbuild's metafile
 * (minified bytes each input left in the bundle, summed per npm package or per folder of ours).
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

/**
 * Issue #23's bundle targets, gzip KiB: chat 120, health 30, every other function 80. `all` (every
 * function and the docs on one origin, what `npm start` serves) has none. The bench's targets
 * (bench/lib/targets.ts) judge by the same table.
 */
const TARGET_KIB: Readonly<Record<string, number>> = { chat: 120, health: 30 };
const DEFAULT_TARGET_KIB = 80;

export function targetKiB(deployment: string): number | null {
  return deployment === 'all' ? null : (TARGET_KIB[deployment] ?? DEFAULT_TARGET_KIB);
}

/** `<= 80 met`, `<= 80 MISSED`, or `none` for the combined deployment. */
export function targetVerdict(deployment: string, gzipBytes: number): string {
  const target = targetKiB(deployment);
  if (target === null) return 'none (combined)';
  // Judged at the 0.1 KiB printed, as the bench does.
  return `<= ${target} ${Math.round(gzipBytes / 102.4) / 10 <= target ? 'met' : 'MISSED'}`;
}

export interface BundleSize {
  deployment: string;
  rawBytes: number;
  gzipBytes: number;
  /** Minified bytes in the bundle per contributor, largest first. */
  contributors: Array<{ name: string; bytes: number }>;
}

export function buildBundle(deployment: string, outRoot = 'dist'): BundleSize {
  const outdir = join(outRoot, deployment);
  const metafile = join(outRoot, `${deployment}.meta.json`);
  rmSync(outdir, { recursive: true, force: true });
  const args = ['deploy', '--dry-run', '--outdir', outdir, '--metafile', metafile];
  if (deployment !== 'all') args.push('--env', deployment);
  const result = spawnSync('wrangler', args, {
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) {
    throw new Error(
      `wrangler deploy --dry-run for ${deployment} failed:\n${result.error?.message ?? (result.stderr || result.stdout)}`,
    );
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
  return { deployment, rawBytes: raw, gzipBytes: gzip, contributors: contributors(metafile) };
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** `node_modules/@scope/pkg/...` → `@scope/pkg`; `shared/llm/x.ts` → `shared/llm`. */
export function contributorOf(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (pkg) return pkg[1]!;
  const parts = input.replace(/^(\.\.\/)+/, '').split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts.join('/');
}

function contributors(metafile: string): BundleSize['contributors'] {
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as Metafile;
  const sums = new Map<string, number>();
  for (const [name, output] of Object.entries(meta.outputs)) {
    if (name.endsWith('.map')) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = contributorOf(input);
      sums.set(key, (sums.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...sums]
    .map(([name, bytes]) => ({ name, bytes }))
    .filter((c) => c.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

if (import.meta.main) {
  const only = process.argv.slice(2);
  const targets = only.length ? only : DEPLOYMENTS;
  const top = Number(process.env.BUILD_TOP ?? 8);
  console.log(
    'deployment   raw          gzip         target (gzip KiB)  top contributors (minified KiB in the bundle)',
  );
  let failed = false;
  let missed = 0;
  for (const deployment of targets) {
    try {
      const size = buildBundle(deployment);
      const list = size.contributors
        .slice(0, top)
        .map((c) => `${c.name} ${(c.bytes / 1024).toFixed(1)}`)
        .join(', ');
      const verdict = targetVerdict(deployment, size.gzipBytes);
      if (verdict.endsWith('MISSED')) missed++;
      console.log(
        `${deployment.padEnd(12)} ${kib(size.rawBytes).padEnd(12)} ${kib(size.gzipBytes).padEnd(12)} ${verdict.padEnd(18)} ${list}`,
      );
    } catch (err) {
      failed = true;
      console.error((err as Error).message);
    }
  }
  // A missed target is reported, not a failed build: the bundles are still what a deploy ships.
  if (missed) console.log(`${missed} deployment(s) over their issue #23 target`);
  process.exitCode = failed ? 1 : 0;
}
