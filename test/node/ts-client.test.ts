import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderTypes, TYPES_PATH } from '../../clients/ts/scripts/generate-types.ts';
import { ModelRole } from '../../clients/ts/src/types.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const outDir = mkdtempSync(join(tmpdir(), 'mas-client-build-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
const specifiers = (code: string) =>
  [...code.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);

describe('@mas/client (clients/ts)', () => {
  it("is typed by the routes' own schemas: src/generated/api.ts is what they generate now", async () => {
    // npm test regenerates it first (pretest); run directly, a stale file shows here.
    const types = await renderTypes();
    const current = existsSync(TYPES_PATH) ? readFileSync(TYPES_PATH, 'utf8') : 'missing';
    expect(current, 'stale or missing: npm test regenerates it, or npm run openapi').toBe(types);
    expect(types).toMatch(
      /recordAction: \{[\s\S]*?agent_name: string;[\s\S]*?status: "recorded" \| "pending_approval"/,
    );
  });

  it('builds on web APIs alone, and what it ships imports nothing outside itself', () => {
    // The package's build: lib ES2022 + DOM, no Node or Workers types, so it compiles only if it
    // uses what Node, Deno, Workers and browsers all have.
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        'clients/ts/tsconfig.build.json',
        '--outDir',
        outDir,
      ],
      { cwd: ROOT, stdio: 'pipe' },
    );
    const emitted = files(outDir);
    const js = emitted.filter((f) => f.endsWith('.js'));
    expect(js.map((f) => relative(outDir, f)).sort()).toContain('index.js');
    for (const file of emitted.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        // Relative only (no zod, no hono, no server module), and inside the package.
        expect(spec, `${relative(outDir, file)} imports ${spec}`).toMatch(/^\.\.?\//);
        expect(relative(outDir, resolve(dirname(file), spec)).startsWith('..'), `${file} → ${spec}`).toBe(
          false,
        );
      }
    }
    const runtimeBytes = js.reduce((n, f) => n + readFileSync(f).byteLength, 0);
    expect(runtimeBytes).toBeLessThan(40_000); // the generated types emit no code
  });

  it('ModelRole mirrors the roles of config/models.yaml', () => {
    const config = parse(readFileSync(join(ROOT, 'config/models.yaml'), 'utf8')) as {
      roles: Record<string, unknown>;
    };
    expect(Object.values(ModelRole).sort()).toEqual(Object.keys(config.roles).sort());
  });
});
