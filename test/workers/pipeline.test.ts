import { exports } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, inject, it } from 'vitest';
import * as z from 'zod';
import { AppError } from '../../shared/errors/index.ts';
import { type AppEnv, createApp, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import {
  isSaneCorrelationId,
  outgoingTraceHeaders,
  parseTraceparent,
} from '../../shared/middleware/correlation/index.ts';
import { readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { AGENT_1_BINDINGS, adminSql, bearer, call, KEYS, testEnv } from './helpers.ts';

// A small function built on the kernel, so the pipeline is tested through a real app in workerd.
const routes = new Hono<AppEnv>();
routes.use('/v1/echo', auth({ roles: ['agent', 'admin'] }));
routes.post('/v1/echo', async (c) => {
  const body = await readJson(
    c,
    z.object({ name: z.string().min(1), count: z.number().int().optional() }),
    1024,
  );
  return c.json({ principal: c.get('principal'), body, correlation: c.get('trace').correlationId });
});
routes.get('/v1/outgoing', (c) =>
  c.json({ trace: c.get('trace'), headers: outgoingTraceHeaders(c.get('trace')) }),
);
routes.get('/v1/boom', () => {
  throw new Error('database password=hunter2 leaked in a driver message');
});
routes.get('/v1/conflict', () => {
  throw new AppError(409, 'already_decided', 'Already decided.');
});
routes.use(
  '/v1/limited',
  auth(),
  rateLimit({ requests: 3, windowSeconds: 60, prefix: `test:${crypto.randomUUID()}` }),
);
routes.get('/v1/limited', (c) => c.json({ ok: true }));
const app = createApp('pipeline-test', [defineFunction('echo', routes)]);

const json = (body: unknown, extra: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...bearer('agent'), ...extra },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('correlation ids', () => {
  it('keeps a sane x-correlation-id', async () => {
    const res = await call(app, '/v1/echo', json({ name: 'a' }, { 'x-correlation-id': 'req-12345678' }));
    expect(res.headers.get('x-correlation-id')).toBe('req-12345678');
    expect(((await res.json()) as { correlation: string }).correlation).toBe('req-12345678');
  });

  it('takes the trace id of a valid traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await call(app, '/health', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(res.headers.get('x-correlation-id')).toBe(traceId);
  });

  it.each([
    ['too short', 'abc'],
    ['a tab inside', 'abcdefgh\tset-cookie'],
    ['spaces and quotes', 'abc def "ghi" jkl'],
    ['too long', 'a'.repeat(200)],
  ])('replaces an insane correlation id (%s) with a new one', async (_, value) => {
    const res = await call(app, '/health', { headers: { 'x-correlation-id': value } });
    expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses CR/LF in a correlation id', () => {
    // A Request cannot even carry CR/LF in a header (the raw-socket case is in
    // test/node/faults-postgres.test.ts); the check itself refuses it too.
    expect(() => new Headers({ 'x-correlation-id': 'abcdefgh\r\nset-cookie: x=1' })).toThrow();
    expect(isSaneCorrelationId('abcdefgh\r\nset-cookie: x=1')).toBe(false);
    expect(isSaneCorrelationId('abcdefgh\nset-cookie')).toBe(false);
    expect(isSaneCorrelationId('abcdefgh')).toBe(true);
  });

  it('is forwarded on outgoing calls with a child traceparent of the same trace', async () => {
    const res = await call(app, '/v1/outgoing', {
      headers: {
        'x-correlation-id': 'corr-out-0001',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      },
    });
    const { trace, headers } = (await res.json()) as {
      trace: { traceId: string };
      headers: Record<string, string>;
    };
    expect(headers['x-correlation-id']).toBe('corr-out-0001');
    const child = parseTraceparent(headers.traceparent);
    expect(child?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child?.parentId).not.toBe('00f067aa0ba902b7');
    expect(trace.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('is on error responses too', async () => {
    const res = await call(app, '/v1/nothing-here', { headers: { 'x-correlation-id': 'corr-abcdefgh' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-correlation-id')).toBe('corr-abcdefgh');
  });
});

describe('errors in the OpenAI shape', () => {
  it('404 for an unknown route', async () => {
    const res = await call(app, '/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: 'No route for GET /nope.',
        type: 'not_found_error',
        code: 'route_not_found',
        param: null,
      },
    });
  });

  it('500 for an unknown error: generic message with the correlation id, no detail, no secret', async () => {
    const res = await call(app, '/v1/boom', { headers: { 'x-correlation-id': 'corr-boom-0001' } });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('driver');
    expect(JSON.parse(text)).toEqual({
      error: {
        message: 'Internal error (correlation id corr-boom-0001).',
        type: 'api_error',
        code: 'internal_error',
        param: null,
      },
    });
  });

  it('typed errors keep status and code', async () => {
    const res = await call(app, '/v1/conflict');
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('already_decided');
  });

  it('400 with param naming the field for a body of the wrong shape', async () => {
    const res = await call(app, '/v1/echo', json({ name: 'x', count: 'three' }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; type: string } };
    expect(body.error.param).toBe('count');
    expect(body.error.type).toBe('invalid_request_error');
  });

  it('400 for malformed JSON, naming no part of the body', async () => {
    const res = await call(app, '/v1/echo', json('{"name": "sk-secret-in-broken-json'));
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe('invalid_json');
    expect(text).not.toContain('sk-secret');
  });

  it('400 for invalid UTF-8', async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const res = await call(app, '/v1/echo', { ...json(''), body: bytes });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_encoding');
  });

  it('415 for another content type', async () => {
    const res = await call(app, '/v1/echo', {
      ...json({ name: 'a' }),
      headers: { ...bearer('agent'), 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(415);
  });

  it('413 past the body limit, whatever Content-Length says', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(5000) });
    const res = await call(app, '/v1/echo', json(big));
    expect(res.status).toBe(413);
    const streamed = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res2 = await call(app, '/v1/echo', { ...json(''), body: streamed, duplex: 'half' } as RequestInit);
    expect(res2.status).toBe(413);
    // A Content-Length under the limit on a longer body (possible in-process): the bytes read decide.
    const lying = await call(app, '/v1/echo', json(big, { 'content-length': '10' }));
    expect(lying.status).toBe(413);
  });
});

describe('auth', () => {
  it('401 without a key, with a wrong key, and with a malformed header', async () => {
    for (const authorization of [
      undefined,
      'Bearer mas_wrong_key_000000000000',
      'Basic abc',
      `Bearer ${KEYS.agent}x`,
    ]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization) headers.authorization = authorization;
      const res = await call(app, '/v1/echo', { method: 'POST', headers, body: '{"name":"a"}' });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    }
  });

  it('403 for the right key with the wrong role', async () => {
    const res = await call(app, '/v1/echo', json({ name: 'a' }, bearer('approver')));
    expect(res.status).toBe(403);
  });

  it('gives the handler the principal', async () => {
    const res = await call(app, '/v1/echo', json({ name: 'a' }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { principal: unknown }).principal).toEqual({
      id: 'agent-1',
      role: 'agent',
      agents: AGENT_1_BINDINGS,
    });
  });

  it('accepts keys from the auth.api_keys table (created as `npm run keys` does)', async () => {
    const { generateApiKey, sha256Hex } = await import('../../shared/auth/api-keys.ts');
    const env = await testEnv();
    const key = generateApiKey();
    const id = `table-agent-${crypto.randomUUID().slice(0, 8)}`;
    const hash = await sha256Hex(key);
    // The keys CLI writes as the owner; the functions (mas_app) only read.
    await adminSql('insert into auth.api_keys (id, role, key_hash) values ($1, $2, $3)', [id, 'agent', hash]);
    const res = await call(app, '/v1/echo', {
      ...json({ name: 'a' }, { authorization: `Bearer ${key}` }),
      env,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { principal: { id: string } }).principal.id).toBe(id);
  });
});

describe('rate limit', () => {
  it('429 with Retry-After after the limit, per principal', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(app, '/v1/limited', { headers: bearer('agent') });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(((await res.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another principal has its own budget.
    expect((await call(app, '/v1/limited', { headers: bearer('admin') })).status).toBe(200);
  });
});

describe.skipIf(inject('stackInfo').redis !== 'ok')('rate limit shared through Redis', () => {
  it('two isolates (two limiter instances) share one budget per principal', async () => {
    // Each rateLimit() has its own per-isolate fallback, so only Redis can make them agree.
    const prefix = `test:shared:${crypto.randomUUID()}`;
    const makeIsolate = () => {
      const r = new Hono<AppEnv>();
      r.use('/v1/limited', auth(), rateLimit({ requests: 3, windowSeconds: 60, prefix }));
      r.get('/v1/limited', (c) => c.json({ ok: true }));
      return createApp('isolate', [defineFunction('limited', r)]);
    };
    const isolates = [makeIsolate(), makeIsolate()];
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call(isolates[i % 2]!, '/v1/limited', { headers: bearer('agent') })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('far from the limit, hits recorded in the background still count for every isolate', async () => {
    const prefix = `test:bg:${crypto.randomUUID()}`;
    // An hour-long window, so the run (seconds: each background batch waits up to 250 ms) does
    // not straddle a boundary, where the previous window's weighted count rounds a hit away.
    const makeIsolate = () => {
      const r = new Hono<AppEnv>();
      r.use('/v1/limited', auth(), rateLimit({ requests: 40, windowSeconds: 3600, prefix }));
      r.get('/v1/limited', (c) => c.json({ ok: true }));
      return createApp('isolate', [defineFunction('limited', r)]);
    };
    const [a, b] = [makeIsolate(), makeIsolate()];
    // 25 on A: after the first, A answers from its shared verdict while it has headroom (> 10)
    // and records each hit in Redis after the response.
    for (let i = 0; i < 25; i++)
      expect((await call(a, '/v1/limited', { headers: bearer('agent') })).status).toBe(200);
    const res = await call(b, '/v1/limited', { headers: bearer('agent') });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBe(40 - 26);
    // Near the limit every request waits for Redis: the budget ends exactly.
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++)
      statuses.push((await call(i % 2 ? a : b, '/v1/limited', { headers: bearer('agent') })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(14);
    expect(statuses.slice(14)).toEqual([429, 429]);
  });

  it('falls back to a per-isolate limit when Redis is unreachable, and still serves', async () => {
    const env = await testEnv({
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
      UPSTASH_REDIS_REST_TOKEN: 't',
    });
    const res = await call(app, '/v1/limited', { headers: bearer('admin'), env });
    expect(res.status).toBe(200);
  });
});

describe('the combined deployment', () => {
  it('serves every function on one origin', async () => {
    const health = await exports.default.fetch('http://mas.test/health');
    expect(health.status).toBe(200);
    expect(((await health.json()) as { function: string }).function).toBe('health');
    const chat = await exports.default.fetch('http://mas.test/v1/chat/completions', { method: 'POST' });
    expect(chat.status).toBe(401);
  });
});
