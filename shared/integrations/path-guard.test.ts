import { describe, expect, it } from 'vitest';
import { guardPath, guardQuery } from './path-guard.ts';

const allowed = ['/data/', '/resources/', '/health'];

describe('guardPath', () => {
  it.each(['/data/x', '/data/a/b-c_d.json', '/resources/42', '/health', '/data/caf%C3%A9'])(
    'allows %s',
    (path) => {
      expect(guardPath(path, allowed)).toBe(path);
    },
  );
  it.each([
    'data/x',
    '/data/../admin',
    '/data/./x',
    '/data//x',
    '/data/%2e%2e/x',
    '/data/%2Fx',
    '/data/%5cx',
    '/data/%252e',
    '/data/x%00',
    '/data/x%0d%0a',
    '/data/x y',
    '/data/x\\y',
    '/data/@host',
    '/http:/evil',
    '/admin',
    '/datax',
    '/healthz',
    '/data/%zz',
  ])('refuses %s', (path) => {
    expect(() => guardPath(path, allowed)).toThrow(/not allowed/);
  });
});

describe('guardQuery', () => {
  it('passes ordinary queries and refuses CR/LF', () => {
    expect(guardQuery('?a=1&b=two')).toBe('?a=1&b=two');
    expect(() => guardQuery('?a=%0d%0aSet-Cookie:x')).toThrow();
  });
});
