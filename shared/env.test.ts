import { describe, expect, it } from 'vitest';
import { getSettings, SettingsError } from './env.ts';

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
});
