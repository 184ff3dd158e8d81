/**
 * Lets plain Node 24 import the functions as the bundlers do: `.yaml` as a text default export,
 * project `.ts`/`.tsx` compiled by esbuild (hono/jsx; Node's type stripping refuses parameter
 * properties and JSX). A no-op for files Node already
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
      // Project TypeScript goes through esbuild: .tsx, and .ts with syntax Node cannot strip
      // (parameter properties, enums).
      if (url.startsWith('file:') && /\.tsx?$/.test(url) && !url.includes('/node_modules/')) {
        esbuild ??= require('esbuild') as typeof import('esbuild');
        const { code } = esbuild.transformSync(readFileSync(fileURLToPath(url), 'utf8'), {
          loader: url.endsWith('.tsx') ? 'tsx' : 'ts',
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
