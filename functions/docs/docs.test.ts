import { describe, expect, it } from 'vitest';
import spec from '../../docs/openapi.json' with { type: 'json' };
import { call, testEnv } from '../../test/workers/helpers.ts';
import { approvalFunction } from '../approval/routes.ts';
import { auditFunction } from '../audit/routes.ts';
import { chatFunction } from '../chat/routes.ts';
import { embedFunction } from '../embed/routes.ts';
import { healthFunction } from '../health/routes.ts';
import app from '../index.ts';
import { proxyFunction } from '../proxy/routes.ts';
import { readyFunction } from '../ready/routes.ts';

const committed = spec as unknown as { paths: Record<string, Record<string, { operationId: string }>> };

describe('API reference', () => {
  it('GET /openapi.json serves the committed OpenAPI 3.1 document', async () => {
    const res = await call(app, '/openapi.json', { env: await testEnv() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { openapi: string; paths: unknown };
    expect(body.openapi).toBe('3.1.0');
    expect(body).toEqual(committed);
  });

  it('GET /docs renders every operation as HTML under a strict CSP', async () => {
    const res = await call(app, '/docs', { env: await testEnv() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    for (const [path, methods] of Object.entries(committed.paths)) {
      expect(html).toContain(`<code>${path}</code>`);
      for (const op of Object.values(methods)) expect(html).toContain(`id="${op.operationId}"`);
    }
  });

  it('documents every route the combined app serves', () => {
    const documented = new Set(
      Object.entries(committed.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    // Local-only and page-internal routes are not part of the API.
    const internal = /^(GET|POST) \/(metrics|openapi\.json|docs|approvals\/.+)$/;
    const served = appRoutes();
    const missing = served.filter((r) => !internal.test(r) && !documented.has(r));
    expect(missing).toEqual([]);
    expect(served.length).toBeGreaterThan(10);
  });
});

/** Every handler the functions register (`use` middleware is method ALL and skipped). */
function appRoutes(): string[] {
  const defs = [healthFunction, readyFunction, chatFunction, embedFunction, auditFunction, approvalFunction];
  const routes = defs.flatMap((def) =>
    def.routes.routes
      .filter((r) => r.method !== 'ALL')
      // Path parameters are whole segments (/:id); a colon inside one (actions:batch) is literal.
      .map((r) => `${r.method} ${r.path.replace(/\/:(\w+)/g, '/{$1}')}`),
  );
  // The proxy serves every method on one pattern; the reference lists each.
  const proxy = proxyFunction.routes.routes.filter((r) => r.path === '/v1/integrations/:name/*');
  if (proxy.length) {
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
      routes.push(`${m} /v1/integrations/{name}/{path}`);
  }
  return [...new Set(routes)];
}
