import { describe, expect, it } from 'vitest';
import { isSensitiveKey } from './index.ts';

describe('isSensitiveKey', () => {
  it.each([
    'Authorization',
    'proxy-authorization',
    'X-API-Key',
    'API-KEY',
    'apiKey',
    'api_key',
    'APIKEY',
    'x-api-key',
    'password',
    'db_password',
    'passwd',
    'pwd',
    'secret',
    'clientSecret',
    'client_secret',
    'token',
    'access_token',
    'refreshToken',
    'x-auth-token',
    'OAuth2Token',
    'private_key',
    'privateKey',
    'cookie',
    'Set-Cookie',
    'credentials',
    'smtp_pass',
    'auth',
    'aws_secret_access_key',
    'signing_key',
  ])('%s is sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
  });

  it.each([
    'max_tokens',
    'tokens',
    'tokenizer',
    'prompt_tokens',
    'completion_tokens',
    'total_tokens',
    'promptTokenCount',
    'token_limit',
    'keyboard',
    'monkey',
    'cache_key',
    'author',
    'passenger',
    'pass_rate',
    'auth_method',
    'secretary',
    'id',
  ])('%s is not', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });

  it('matches extra keys by words, separators and case aside', () => {
    for (const key of ['session_id', 'sessionId', 'SESSION-ID', 'x_session_id']) {
      expect(isSensitiveKey(key, ['session_id']), key).toBe(true);
    }
    expect(isSensitiveKey('session', ['session_id'])).toBe(false);
    expect(isSensitiveKey('sessionist', ['session'])).toBe(false);
  });
});
