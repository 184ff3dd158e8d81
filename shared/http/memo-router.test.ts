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
  it('answers as TrieRouter does, first and every later time, when RegExpRouter cannot hold the routes', () => {
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

  it('hands over to RegExpRouter unchanged when the routes fit it', () => {
    const memo = new MemoRouter<string>();
    memo.add('POST', '/v1/chat/completions', 'chat');
    memo.add('GET', '/v1/models/:id', 'model');
    const [handlers, stash] = memo.match('GET', '/v1/models/abc') as [
      [string, Record<string, number>][],
      string[],
    ];
    expect(handlers[0]![0]).toBe('model');
    expect(stash[handlers[0]![1].id!]).toBe('abc');
    expect(memo.name).toBe('MemoRouter + RegExpRouter');
    expect(memo.match('POST', '/v1/chat/completions')[0].map(([h]) => h)).toEqual(['chat']);
  });
});
