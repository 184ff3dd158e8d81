/**
 * Lets plain Node 24 import the functions: Node strips the project's TypeScript itself (the
 * project is erasable-only, `erasableSyntaxOnly` in tsconfig), but not JSX, so `.tsx` files (the
 * approvals page, the API reference) go through esbuild with hono/jsx. The output is kept in
 * node_modules/.cache/mas-tsx by a hash of the source and the options: starting esbuild's service
 * (a child process) was ~0.2-0.45 s of every start from source, paid again for unchanged files.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let registered = false;

const OPTIONS = {
  loader: 'tsx',
  format: 'esm',
  jsx: 'automatic',
  jsxImportSource: 'hono/jsx',
} as const;
const CACHE = join(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'mas-tsx');

export function registerBenchHooks(): void {
  if (registered) return;
  registered = true;
  const require = createRequire(import.meta.url);
  let esbuild: typeof import('esbuild') | undefined;
  registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith('file:') && url.endsWith('.tsx') && !url.includes('/node_modules/')) {
        const source = readFileSync(fileURLToPath(url), 'utf8');
        const { version } = require('esbuild/package.json') as { version: string };
        const key = createHash('sha256')
          .update(`${version}\0${JSON.stringify(OPTIONS)}\0${source}`)
          .digest('hex');
        const cached = join(CACHE, `${key}.js`);
        try {
          return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
        } catch {
          // not transformed yet
        }
        esbuild ??= require('esbuild') as typeof import('esbuild');
        const { code } = esbuild.transformSync(source, OPTIONS);
        try {
          mkdirSync(CACHE, { recursive: true });
          // Written aside and renamed: a concurrent start never reads half a file.
          writeFileSync(`${cached}.${process.pid}`, code);
          renameSync(`${cached}.${process.pid}`, cached);
        } catch {
          // a read-only checkout: transform each time
        }
        return { format: 'module', source: code, shortCircuit: true };
      }
      return nextLoad(url, context);
    },
  });
}
