import { describe, expect, it } from 'vitest';
import { createLogger, logsAt } from './logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, sink: (line: string) => lines.push(JSON.parse(line)) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with the base fields first', () => {
    const { lines, sink } = capture();
    const log = createLogger({ function: 'chat', correlation_id: 'c-12345678' }, 'info', sink);
    log.info('request', { status: 200, duration_ms: 1.5 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      function: 'chat',
      correlation_id: 'c-12345678',
      status: 200,
    });
    expect(Date.parse(lines[0]!.ts as string)).not.toBeNaN();
  });

  it('drops lines below the level', () => {
    const { lines, sink } = capture();
    const log = createLogger({}, 'warn', sink);
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(lines.map((l) => l.msg)).toEqual(['c', 'd']);
    createLogger({}, 'silent', sink).error('never');
    expect(lines).toHaveLength(2);
  });

  it('redacts secrets in messages and fields, keeps emails (logs mode)', () => {
    const { lines, sink } = capture();
    const log = createLogger({}, 'info', sink);
    log.info('called with sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z', {
      headers: { authorization: 'Bearer abcdefghijklmnop' },
      user: 'ops@example.com',
    });
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('Ab3dEf6hIj9kLm2nOp5q');
    expect(text).not.toContain('abcdefghijklmnop');
    expect(text).toContain('ops@example.com');
  });

  it('serialises errors as name, message and cause, never a stack', () => {
    const { lines, sink } = capture();
    const cause = new Error('connect ECONNREFUSED postgres://app:pw-123456@db:5432/x');
    createLogger({}, 'info', sink).error('failed', { error: new Error('query failed', { cause }) });
    const error = lines[0]!.error as Record<string, unknown>;
    expect(error).toEqual({
      name: 'Error',
      message: 'query failed',
      cause: {
        name: 'Error',
        message: 'connect ECONNREFUSED postgres://app:[REDACTED:url_password]@db:5432/x',
      },
    });
    expect(JSON.stringify(lines[0])).not.toContain('stack');
  });

  it('child loggers add fields', () => {
    const { lines, sink } = capture();
    createLogger({ function: 'audit' }, 'info', sink).child({ principal: 'alice' }).info('x');
    expect(lines[0]).toMatchObject({ function: 'audit', principal: 'alice' });
  });

  it("a child's child carries every ancestor's fields, the nearest winning, and its own lines only", () => {
    const { lines, sink } = capture();
    const root = createLogger({ function: 'chat', principal: 'none' }, 'info', sink);
    const child = root.child({ principal: 'alice', step: 1 });
    const grandchild = child.child({ step: 2 });
    grandchild.info('g', { extra: true });
    child.warn('c');
    root.info('r');
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'g', function: 'chat', principal: 'alice', step: 2, extra: true }),
      expect.objectContaining({ msg: 'c', function: 'chat', principal: 'alice', step: 1 }),
      expect.objectContaining({ msg: 'r', function: 'chat', principal: 'none' }),
    ]);
    expect(Object.keys(lines[0]!)).toEqual(['ts', 'level', 'msg', 'function', 'principal', 'step', 'extra']);
    // A child keeps its parent's level.
    createLogger({}, 'warn', sink).child({ a: 1 }).info('dropped');
    expect(lines).toHaveLength(3);
  });

  it('logsAt says which levels a logger of a level writes', () => {
    expect(logsAt('info', 'info')).toBe(true);
    expect(logsAt('debug', 'info')).toBe(true);
    expect(logsAt('warn', 'info')).toBe(false);
    expect(logsAt('warn', 'error')).toBe(true);
    expect(logsAt('silent', 'error')).toBe(false);
  });
});
