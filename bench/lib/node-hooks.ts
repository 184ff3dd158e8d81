/**
 * Lets plain Node 24 import the functions as the bundlers do: `.yaml` as a text default export,
 * `.tsx` (the approvals page) compiled by esbuild with hono/jsx. A no-op for files Node already
 * handles; harmless once the project makes functions/*.ts importable without it.
 */
import { readFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

let registered = false;

export function registerBenchHooks(): void {
  if (registered) return;
  registered = true;
  const require = createRequire(import.meta.url);
  let esbuild: typeof import('esbuild') | undefined;
  registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith('file:') && url.endsWith('.yaml')) {
        const text = readFileSync(fileURLToPath(url), 'utf8');
        return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
      }
      if (url.startsWith('file:') && url.endsWith('.tsx')) {
        esbuild ??= require('esbuild') as typeof import('esbuild');
        const { code } = esbuild.transformSync(readFileSync(fileURLToPath(url), 'utf8'), {
          loader: 'tsx',
          format: 'esm',
          jsx: 'automatic',
          jsxImportSource: 'hono/jsx',
        });
        return { format: 'module', source: code, shortCircuit: true };
      }
      return nextLoad(url, context);
    },
  });
}
