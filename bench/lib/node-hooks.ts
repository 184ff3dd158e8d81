/**
 * Lets plain Node 24 import the functions: Node strips the project's TypeScript itself (the
 * project is erasable-only, `erasableSyntaxOnly` in tsconfig), but not JSX, so `.tsx` files (the
 * approvals page, the API reference) go through esbuild with hono/jsx.
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
      if (url.startsWith('file:') && url.endsWith('.tsx') && !url.includes('/node_modules/')) {
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
