import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { correlation } from '../correlation/index.ts';
import { accessLog } from './index.ts';

/** correlation + accessLog as createApp orders them, a route that names its principal, and the lines written. */
function app() {
  const hono = new Hono();
  hono.use(correlation());
  hono.use(accessLog({ deployName: 'all', routeOwners: new Map([['/v1/thing', 'chat']]) }));
  hono.post('/v1/thing', (c) => {
    c.set('principal', { id: 'agent-1', role: 'agent' } as never);
    return c.text('ok', 201);
  });
  const lines: Record<string, unknown>[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => {
    lines.push(JSON.parse(line));
  });
  return { hono, lines };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('accessLog', () => {
  it('writes one access line at info: function, principal, method, route, status, duration', async () => {
    const { hono, lines } = app();
    const res = await hono.request(
      '/v1/thing',
      { method: 'POST', headers: { 'x-correlation-id': 'corr-access-1' } },
      { LOG_LEVEL: 'info' },
    );
    expect(res.status).toBe(201);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request',
        function: 'chat',
        correlation_id: 'corr-access-1',
        principal: 'agent-1',
        method: 'POST',
        route: '/v1/thing',
        status: 201,
        duration_ms: expect.any(Number),
      }),
    ]);
  });

  it('builds no access line when info is off: its fields are not even read', async () => {
    const { hono, lines } = app();
    // A principal whose id counts its reads: the line's `principal` field is the only reader.
    let idReads = 0;
    const principal = {
      role: 'agent',
      get id() {
        idReads++;
        return 'agent-2';
      },
    };
    hono.post('/v1/watched', (c) => {
      c.set('principal', principal as never);
      return c.text('ok', 201);
    });
    for (const level of ['warn', 'error', 'silent']) {
      const res = await hono.request('/v1/watched', { method: 'POST' }, { LOG_LEVEL: level });
      expect(res.status).toBe(201);
    }
    expect(lines).toEqual([]);
    expect(idReads).toBe(0);
    // The same request at info does read it, so the count above could fail.
    await hono.request('/v1/watched', { method: 'POST' }, { LOG_LEVEL: 'info' });
    expect(idReads).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ msg: 'request', principal: 'agent-2' })]);
  });

  it('labels a request no route owns with the deployment', async () => {
    const { hono, lines } = app();
    const res = await hono.request('/elsewhere', {}, { LOG_LEVEL: 'debug' });
    expect(res.status).toBe(404);
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'request', function: 'all', route: 'unmatched', status: 404 }),
    ]);
  });
});
