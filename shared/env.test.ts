import { describe, expect, it } from 'vitest';
import { getSettings, parseSettings, SettingsError } from './env.ts';

describe('settings from env', () => {
  it('reads and normalises', () => {
    const s = getSettings({
      DATABASE_URL: 'postgres://u:p@h:5432/db',
      LOG_LEVEL: 'DEBUG',
      APPROVAL_REQUIRED: 'false',
      QDRANT_URL: '',
    });
    expect(s.LOG_LEVEL).toBe('debug');
    expect(s.APPROVAL_REQUIRED).toBe(false);
    expect(s.ACTION_AUDIT_ENABLED).toBe(true);
    expect(s.QDRANT_URL).toBeUndefined();
  });

  it('names a bad variable without echoing its value', () => {
    const secretish = 'mysql://root:hunter2@db/x';
    expect(() => getSettings({ DATABASE_URL: secretish })).toThrow(SettingsError);
    try {
      getSettings({ DATABASE_URL: secretish });
    } catch (err) {
      expect((err as Error).message).toContain('DATABASE_URL');
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('ignores non-string bindings', () => {
    expect(getSettings({ LOG_LEVEL: 42 as unknown as string }).LOG_LEVEL).toBe('info');
  });

  it('normalises each kind of value as the zod schema it replaced did', () => {
    const s = parseSettings({
      QDRANT_URL: ' http://exa\tmple.com/x ',
      LLM_BASE_URL: 'mailto:a@b',
      LOG_LEVEL: ' WARN ',
      APPROVAL_REQUIRED: ' Off ',
      ACTION_AUDIT_ENABLED: 'nah',
      EXPOSE_METRICS: '',
      RATE_LIMIT_REQUESTS: ' 7 ',
      RATE_LIMIT_AUTH_FAILURES: '0x10',
      USAGE_FLUSH_MS: '0',
      METRICS_GROUP_IDLE_SECONDS: '1e2',
      LEDGER_CHECKPOINT_INTERVAL_SECONDS: '',
      CORS_ORIGINS: '   ',
      DATABASE_URL: 'postgresql://h/db',
    });
    expect(s).toEqual({
      QDRANT_URL: 'http://example.com/x',
      LLM_BASE_URL: 'mailto:a@b',
      LOG_LEVEL: 'warn',
      APPROVAL_REQUIRED: false,
      ACTION_AUDIT_ENABLED: true,
      APPROVAL_WEBHOOK_ALLOW_PRIVATE: false,
      LEDGER_WITNESS_ALLOW_PRIVATE: false,
      EXPOSE_METRICS: false,
      RATE_LIMIT_REQUESTS: 7,
      RATE_LIMIT_AUTH_FAILURES: 16,
      USAGE_FLUSH_MS: 0,
      METRICS_GROUP_IDLE_SECONDS: 100,
      LEDGER_CHECKPOINT_INTERVAL_SECONDS: 60,
      CORS_ORIGINS: undefined,
      DATABASE_URL: 'postgresql://h/db',
    });
    expect(parseSettings({})).toEqual({
      LOG_LEVEL: 'info',
      APPROVAL_REQUIRED: true,
      ACTION_AUDIT_ENABLED: true,
      APPROVAL_WEBHOOK_ALLOW_PRIVATE: false,
      LEDGER_WITNESS_ALLOW_PRIVATE: false,
      LEDGER_CHECKPOINT_INTERVAL_SECONDS: 60,
      EXPOSE_METRICS: false,
    });
  });

  it("refuses a bad value with zod's English words, the first bad variable in the settings' order", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ QDRANT_URL: 'not a url' }, 'QDRANT_URL: Invalid URL'],
      [{ PUSHGATEWAY_URL: 'http://' }, 'PUSHGATEWAY_URL: Invalid URL'],
      [
        { LOG_LEVEL: 'verbose' },
        'LOG_LEVEL: Invalid option: expected one of "debug"|"info"|"warn"|"error"|"silent"',
      ],
      [{ RATE_LIMIT_REQUESTS: 'abc' }, 'RATE_LIMIT_REQUESTS: Invalid input: expected number, received NaN'],
      [
        { RATE_LIMIT_REQUESTS: '1e400' },
        'RATE_LIMIT_REQUESTS: Invalid input: expected number, received Infinity',
      ],
      [
        { RATE_LIMIT_FLUSH_MS: '-Infinity' },
        'RATE_LIMIT_FLUSH_MS: Invalid input: expected number, received -Infinity',
      ],
      [{ RATE_LIMIT_REQUESTS: '-1.5' }, 'RATE_LIMIT_REQUESTS: must be an integer'],
      [{ RESPONSES_RETENTION_DAYS: '0' }, 'RESPONSES_RETENTION_DAYS: Too small: expected number to be >0'],
      [{ USAGE_FLUSH_MS: '-1' }, 'USAGE_FLUSH_MS: Too small: expected number to be >=0'],
      [
        { METRICS_GROUP_IDLE_SECONDS: '59' },
        'METRICS_GROUP_IDLE_SECONDS: Too small: expected number to be >=60',
      ],
      [
        { LEDGER_CHECKPOINT_INTERVAL_SECONDS: 'x' },
        'LEDGER_CHECKPOINT_INTERVAL_SECONDS: Invalid input: expected number, received NaN',
      ],
      [
        { DATABASE_URL: 'redis://h' },
        'DATABASE_URL: must look like postgres://user:password@host:5432/dbname',
      ],
      [{ LOG_LEVEL: 'bad', QDRANT_URL: 'bad' }, 'QDRANT_URL: Invalid URL'],
    ];
    for (const [env, message] of cases)
      expect(() => parseSettings(env)).toThrow(new SettingsError(`invalid setting ${message}`));
  });
});
