import type { Result } from 'hono/router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { TrieRouter } from 'hono/router/trie-router';
import { describe, expect, it } from 'vitest';
import { MemoRouter } from './memo-router.ts';

// Routes RegExpRouter refuses (a static path beside a parameter, as the approvals page has).
const ROUTES: Array<[string, string]> = [
  ['ALL', '/approvals/*'],
  ['GET', '/approvals/pending'],
  ['GET', '/approvals/:id'],
  ['POST', '/approvals/:id/decide'],
  ['ALL', '/v1/chat/*'],
  ['POST', '/v1/chat/completions'],
  ['GET', '/v1/models/:id'],
];
const PATHS = [
  ['GET', '/approvals/pending'],
  ['GET', '/approvals/abc'],
  ['POST', '/approvals/abc/decide'],
  ['POST', '/v1/chat/completions'],
  ['GET', '/v1/chat/completions'],
  ['GET', '/v1/models/gpt-4o'],
  ['GET', '/v1/models/other'],
  ['DELETE', '/nowhere'],
  ['GET', `/v1/models/${'x'.repeat(300)}`],
];

function build<R extends { add(m: string, p: string, h: string): void }>(router: R): R {
  for (const [method, path] of ROUTES) router.add(method, path, `${method} ${path}`);
  return router;
}

describe('MemoRouter', () => {
  it('answers as TrieRouter does, first and every later time, where RegExpRouter cannot hold the routes', () => {
    const memo = build(new MemoRouter<string>());
    const trie = build(new TrieRouter<string>());
    for (let round = 0; round < 3; round++) {
      for (const [method, path] of PATHS)
        expect(memo.match(method!, path!)).toEqual(trie.match(method!, path!));
    }
    expect(memo.name).toBe('MemoRouter + TrieRouter');
  });

  it('stays right past its bound (distinct paths forget the memo, not the routes)', () => {
    const memo = build(new MemoRouter<string>());
    const trie = build(new TrieRouter<string>());
    for (let i = 0; i < 2500; i++) {
      const path = `/v1/models/m${i % 1300}`;
      expect(memo.match('GET', path)).toEqual(trie.match('GET', path));
    }
    expect(memo.match('GET', '/approvals/pending')).toEqual(trie.match('GET', '/approvals/pending'));
  });

  it("answers as RegExpRouter (hono's default) did for routes it can hold: same handlers, same order, same params", () => {
    // The chat deployment's table as createApp registers it: the pipeline, /health and /metrics,
    // the function's own middleware and routes.
    const table: Array<[string, string]> = [
      ['ALL', '/*'],
      ['ALL', '/*'],
      ['GET', '/health'],
      ['GET', '/metrics'],
      ['ALL', '/v1/chat/*'],
      ['ALL', '/v1/models'],
      ['ALL', '/v1/models/*'],
      ['GET', '/v1/models'],
      ['GET', '/v1/models/:id'],
      ['ALL', '/v1/files'],
      ['ALL', '/v1/files/*'],
      ['POST', '/v1/chat/completions'],
      ['ALL', '/v1/responses'],
      ['ALL', '/v1/responses/*'],
      ['POST', '/v1/responses'],
      ['GET', '/v1/responses/:id'],
      ['DELETE', '/v1/responses/:id'],
      ['GET', '/v1/responses/:id/input_items'],
      ['POST', '/v1/completions'],
    ];
    const memo = new MemoRouter<string>();
    const regexp = new RegExpRouter<string>();
    table.forEach(([method, path], i) => {
      memo.add(method, path, `${i} ${method} ${path}`);
      regexp.add(method, path, `${i} ${method} ${path}`);
    });
    const resolved = (r: Result<string>) =>
      r[0].map(([h, p]) => [
        h,
        Object.fromEntries(
          Object.entries(p).map(([k, v]) => [k, r[1] ? (r[1] as string[])[v as number] : v]),
        ),
      ]);
    const paths = [
      '/health',
      '/health/',
      '/metrics',
      '/v1/chat/completions',
      '/v1/chat/completions/',
      '/v1/chat/other',
      '/v1/models',
      '/v1/models/gpt-4o',
      '/v1/models/a/b',
      '/v1/files',
      '/v1/files/x',
      '/v1/responses',
      '/v1/responses/resp_1',
      '/v1/responses/resp_1/input_items',
      '/v1/responses/resp_1/other',
      '/v1/completions',
      '/',
      '/nowhere',
    ];
    for (const method of ['GET', 'POST', 'DELETE', 'PUT', 'OPTIONS'])
      for (const path of paths) {
        const want = resolved(regexp.match(method, path));
        expect([method, path, resolved(memo.match(method, path))]).toEqual([method, path, want]);
        expect([method, path, resolved(memo.match(method, path))]).toEqual([method, path, want]);
      }
    expect(memo.name).toBe('MemoRouter + TrieRouter');
  });

  it('sees a route added after a match', () => {
    const memo = new MemoRouter<string>();
    memo.add('GET', '/a', 'a');
    expect(memo.match('GET', '/b')[0]).toEqual([]);
    memo.add('GET', '/b', 'b');
    expect(memo.match('GET', '/b')[0].map(([h]) => h)).toEqual(['b']);
  });
});
