import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import app from '../../functions/index.ts';
import { generateApiKey, sha256Hex } from '../../shared/auth/api-keys.ts';
import { clientAddress } from '../../shared/auth/client-address.ts';
import { getSettings } from '../../shared/env.ts';
import { getRedis } from '../../shared/redis/client.ts';
import { adminSql, call, KEYS, testEnv } from './helpers.ts';

// Issue #22 "refusing strangers cheaply": a malformed key is refused before any digest or I/O,
// failed authentications are limited per client address in front of auth, valid keys unaffected.

/** A client address of this test's own (documentation range), so no other test counts with it. */
const newClient = () => `2001:db8::${crypto.randomUUID().slice(0, 8)}`;
/**
 * Dependencies that fail at once: a database that does not exist on the stack's Postgres (any
 * look-up is a 503) and a Redis URL nothing listens on.
 */
const stackDb = new URL(inject('stackSettings').DATABASE_URL!);
const BROKEN = {
  DATABASE_URL: `postgres://mas_app:hunter2-db-password@${stackDb.host}/mas_no_such_database`,
  UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
  UPSTASH_REDIS_REST_TOKEN: 'broken-redis-token',
};

const MALFORMED = [
  '', // "Bearer " and nothing
  'sk-proj-0123456789abcdefghijklmnopqrstuvwxyz', // someone else's key format
  'mas_', // the prefix alone
  'mas_short', // under 16 characters after the prefix
  `mas_${'a'.repeat(129)}`, // over 128
  'mas_0123456789abcdef+/=', // not base64url
  'MAS_0123456789abcdefghijkl', // the prefix is case-sensitive
  `mas_${'!'.repeat(20)}`,
  'x'.repeat(4000),
];

async function errorOf(res: Response) {
  return ((await res.json()) as { error: { type: string; code: string; message: string } }).error;
}

afterEach(() => vi.restoreAllMocks());

/**
 * The digests a key would cost, from the spy's calls: not the MD5 of the Postgres md5 password
 * exchange (postgres.js hashes it with crypto.subtle), which a connection still being made for
 * an earlier test's look-up can do while this one runs.
 */
const keyDigests = (digest: { mock: { calls: unknown[][] } }) =>
  digest.mock.calls.filter(([algorithm]) => String(algorithm).toLowerCase() !== 'md5');

describe('a malformed key', () => {
  it('is 401 without a digest, a query or a Redis command, even with both dependencies broken', async () => {
    const env = await testEnv(BROKEN);
    const digest = vi.spyOn(crypto.subtle, 'digest');
    const fetches = vi.spyOn(globalThis, 'fetch');
    const client = newClient();
    for (let round = 0; round < 20; round++) {
      for (const key of MALFORMED) {
        const res = await call(app, '/v1/models', {
          headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': client },
          env,
        });
        expect(res.status, key).toBe(401);
        const error = await errorOf(res);
        expect(error.type).toBe('authentication_error');
        expect(JSON.stringify(error)).not.toContain(key || 'Bearer');
      }
      // The Messages API's bare x-api-key takes the same path.
      const res = await call(app, '/v1/messages', {
        method: 'POST',
        headers: {
          'x-api-key': 'sk-ant-not-ours-0123456789',
          'content-type': 'application/json',
          'cf-connecting-ip': client,
        },
        body: '{}',
        env,
      });
      expect(res.status).toBe(401);
    }
    expect(keyDigests(digest)).toEqual([]);
    expect(fetches).not.toHaveBeenCalled();
  });

  it('while a well-formed unknown key, in the same environment, does reach Postgres (the control)', async () => {
    const env = await testEnv(BROKEN);
    const res = await call(app, '/v1/models', {
      headers: { authorization: `Bearer ${generateApiKey()}`, 'cf-connecting-ip': newClient() },
      env,
    });
    // Postgres is down: the look-up was tried (and the 503 names no credentials).
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).not.toContain('hunter2');
  });

  it('valid keys keep working: from the secret, and from auth.api_keys', async () => {
    const env = await testEnv();
    for (const role of ['agent', 'approver', 'admin'] as const) {
      const res = await call(app, '/v1/models', {
        headers: { authorization: `Bearer ${KEYS[role]}`, 'cf-connecting-ip': newClient() },
        env,
      });
      expect(res.status, role).toBe(200);
    }
    // A key as `npm run keys` makes it, in the table (written as the owner; the app only reads).
    const key = generateApiKey();
    const id = `strangers-${crypto.randomUUID().slice(0, 8)}`;
    await adminSql('insert into auth.api_keys (id, role, key_hash) values ($1, $2, $3)', [
      id,
      'agent',
      await sha256Hex(key),
    ]);
    const res = await call(app, '/v1/models', {
      headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': newClient() },
      env,
    });
    expect(res.status).toBe(200);
    // Only keys of that shape are looked up there: a hand-made one in the table is never found.
    // 22 characters after the prefix, unique per run (key_hash is unique in the table).
    const handMade = `mas_hand_made_${crypto.randomUUID().slice(0, 12)}`;
    await adminSql('insert into auth.api_keys (id, role, key_hash) values ($1, $2, $3)', [
      `${id}-h`,
      'agent',
      await sha256Hex(handMade),
    ]);
    const refused = await call(app, '/v1/models', {
      headers: { authorization: `Bearer ${handMade}`, 'cf-connecting-ip': newClient() },
      env,
    });
    expect(refused.status).toBe(401);
  });
});

describe('the per-client limit on failed authentications', () => {
  it('429 with Retry-After in the error shape once a client is over, before auth; others unaffected', async () => {
    const env = await testEnv({ RATE_LIMIT_AUTH_FAILURES: '5' });
    const stranger = newClient();
    const neighbour = newClient();
    const headers = (client: string, key: string) => ({
      authorization: `Bearer ${key}`,
      'cf-connecting-ip': client,
    });
    for (let i = 0; i < 5; i++) {
      const res = await call(app, '/v1/models', {
        headers: headers(stranger, `mas_wrong_${i}_0123456789abcdef`),
        env,
      });
      expect(res.status).toBe(401);
    }
    const over = await call(app, '/v1/models', {
      headers: headers(stranger, 'mas_wrong_x_0123456789abcdef'),
      env,
    });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const error = await errorOf(over);
    expect(error.type).toBe('rate_limit_error');
    expect(error.code).toBe('too_many_failed_authentications');
    // Before auth: the refused client's valid key is not even looked at, nor any key digested.
    const digest = vi.spyOn(crypto.subtle, 'digest');
    const blocked = await call(app, '/v1/models', { headers: headers(stranger, KEYS.agent), env });
    expect(blocked.status).toBe(429);
    expect(digest).not.toHaveBeenCalled();
    // Another client: its valid key works, its bad key is a plain 401.
    expect((await call(app, '/v1/models', { headers: headers(neighbour, KEYS.agent), env })).status).toBe(
      200,
    );
    expect((await call(app, '/v1/models', { headers: headers(neighbour, 'nope') })).status).toBe(401);
  });

  it('never counts keys that authenticate', async () => {
    const env = await testEnv({ RATE_LIMIT_AUTH_FAILURES: '3' });
    const client = newClient();
    for (let i = 0; i < 30; i++) {
      const res = await call(app, '/v1/models', {
        headers: { authorization: `Bearer ${KEYS.agent}`, 'cf-connecting-ip': client },
        env,
      });
      expect(res.status).toBe(200);
    }
    // Still its full allowance of failures.
    for (let i = 0; i < 3; i++) {
      const res = await call(app, '/v1/models', { headers: { 'cf-connecting-ip': client }, env });
      expect(res.status).toBe(401);
    }
    expect((await call(app, '/v1/models', { headers: { 'cf-connecting-ip': client }, env })).status).toBe(
      429,
    );
  });

  it('counts misses that cost a Postgres look-up in Redis (shared by isolates), free ones only in memory', async () => {
    const env = await testEnv();
    const redis = getRedis(getSettings(env))!;
    expect(redis).toBeDefined();
    const hits = async (client: string) => {
      const keys = await redis.keys(`mas:authfail:${client}:*`);
      let total = 0;
      for (const k of keys) total += Number(await redis.get(k));
      return total;
    };
    const costly = newClient();
    for (let i = 0; i < 4; i++) {
      const res = await call(app, '/v1/models', {
        headers: { authorization: `Bearer ${generateApiKey()}`, 'cf-connecting-ip': costly },
        env,
      });
      expect(res.status).toBe(401);
    }
    expect(await hits(costly)).toBe(4);
    const free = newClient();
    for (const key of ['mas_tiny', 'sk-0123456789abcdefghij']) {
      const res = await call(app, '/v1/models', {
        headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': free },
        env,
      });
      expect(res.status).toBe(401);
    }
    // A repeated unknown key is answered from the brief miss cache: no second query, no Redis hit.
    const repeated = newClient();
    const key = generateApiKey();
    for (let i = 0; i < 3; i++) {
      await call(app, '/v1/models', {
        headers: { authorization: `Bearer ${key}`, 'cf-connecting-ip': repeated },
        env,
      });
    }
    expect(await hits(free)).toBe(0);
    expect(await hits(repeated)).toBe(1);
  });

  it('the approvals sign-in: malformed keys refused without I/O, then 429 past the limit', async () => {
    const env = await testEnv({ ...BROKEN, RATE_LIMIT_AUTH_FAILURES: '3' });
    const client = newClient();
    const login = (key: string) =>
      call(app, '/approvals/login', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'http://mas.test',
          'cf-connecting-ip': client,
        },
        body: new URLSearchParams({ key }).toString(),
        env,
      });
    const digest = vi.spyOn(crypto.subtle, 'digest');
    for (const key of ['', 'hunter2', 'sk-0123456789abcdefghijklmnop']) {
      const res = await login(key);
      // Postgres is broken: a look-up would have been a 503.
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toContain('flash=');
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    expect(keyDigests(digest)).toEqual([]);
    const over = await login(KEYS.approver);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await errorOf(over)).code).toBe('too_many_failed_authentications');
    // A good key from another client still signs in.
    const other = await call(app, '/approvals/login', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://mas.test',
        'cf-connecting-ip': newClient(),
      },
      body: new URLSearchParams({ key: KEYS.approver }).toString(),
    });
    expect(other.status).toBe(303);
    expect(other.headers.get('location')).toBe('/approvals');
  });
});

describe('clientAddress', () => {
  const req = (headers: Record<string, string> = {}, cf?: Record<string, unknown>) => {
    const r = new Request('http://mas.test/', { headers });
    if (cf) Object.defineProperty(r, 'cf', { value: cf });
    return r;
  };
  it('takes the socket address workerd gives, else CF-Connecting-IP, else one unidentified client', () => {
    expect(clientAddress(req({ 'cf-connecting-ip': '198.51.100.7' }, { clientIp: '127.0.0.1:53412' }))).toBe(
      '127.0.0.1',
    );
    expect(clientAddress(req({}, { clientIp: '[::1]:53412' }))).toBe('::1');
    expect(clientAddress(req({ 'cf-connecting-ip': '198.51.100.7' }, { colo: 'FRA' }))).toBe('198.51.100.7');
    expect(clientAddress(req({ 'cf-connecting-ip': 'x'.repeat(500) })).length).toBe(64);
    expect(clientAddress(req())).toBe('unidentified');
  });
});
