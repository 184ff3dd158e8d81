import { describe, expect, it } from 'vitest';
import { configEnvNames, workerSettings } from './worker-settings.ts';

describe('workerSettings (what npm start hands the functions)', () => {
  it('passes CORS_ORIGINS and the other settings shared/env.ts reads, and nothing unrelated', () => {
    const vars = workerSettings(
      {
        CORS_ORIGINS: 'http://localhost:5173,https://app.example',
        RESPONSES_RETENTION_DAYS: '7',
        LOG_LEVEL: 'debug',
        MAS_MODELS_YAML: 'roles: {}',
        HOME: '/root',
        AWS_SECRET_ACCESS_KEY: 'not-ours',
      },
      { DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' },
      { EXPOSE_METRICS: 'true' },
    );
    expect(vars).toEqual({
      EXPOSE_METRICS: 'true',
      CORS_ORIGINS: 'http://localhost:5173,https://app.example',
      RESPONSES_RETENTION_DAYS: '7',
      LOG_LEVEL: 'debug',
      MAS_MODELS_YAML: '{"roles":{}}', // as JSON, the form workers read
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
    });
  });

  it('passes every variable the bundled config names, and the stack wins over the environment', () => {
    expect(configEnvNames()).toContain('MINDEX_API_URL');
    expect(configEnvNames({ servers: { files: { url_env: 'FILES_MCP_URL' } } })).toEqual(
      new Set(['FILES_MCP_URL']),
    );
    const vars = workerSettings(
      { LLM_API_KEY: 'k', DATABASE_URL: 'postgres://elsewhere/db' },
      { DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' },
    );
    expect(vars).toEqual({ LLM_API_KEY: 'k', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' });
  });
});
