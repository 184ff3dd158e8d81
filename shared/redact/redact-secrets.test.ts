import { describe, expect, it } from 'vitest';
import { isSensitiveKey, luhnValid, redactSecrets, redactString } from './index.ts';

// Real-looking, made-up secrets. Each case: where the secret sits, the secret text, the rule.
const OPENAI = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7CD0EF3GH6';
const OPENAI_LEGACY = 'sk-4f8Kq2Lm9Xv7Rt1Yp3Zs6Wn0Bc5Hd8Jg2Fa7Qe';
const ANTHROPIC = 'sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7-Aa1Bb2Cc';
const GOOGLE = 'AIzaSyD4k9Xq2Lm7Rt1Yp3Zs6Wn0Bc5Hd8Jg2Fa';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const AWS_TEMP = 'ASIAY34FZKBOKMUTVV7A';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PEM = `-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aumVH3zL0xQn1Yw4yqR5Nv8aB9
k2Lm7Rt1Yp3Zs6Wn0Bc5Hd8Jg2Fa7Qe4f8Kq2Lm9Xv7Rt1Yp3Zs6Wn0Bc5Hd8Jg2
-----END RSA PRIVATE KEY-----`;
const PEM_EC = `-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oAoGCCqGSM49AwEHoUQDQgAE\n-----END EC PRIVATE KEY-----`;
const GITHUB = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
const GITHUB_PAT = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';
const SLACK = 'xoxb-2637583920-2637583921-Gz8kQ2Lm9Xv7Rt1Yp3Zs6Wn0';
const STRIPE = 'sk_live_51H8mQ2Lm9Xv7Rt1Yp3Zs6Wn0Bc5Hd8Jg';
const CARD_VISA = '4111 1111 1111 1111';
const CARD_MC = '5555-5555-5555-4444';
const CARD_AMEX = '378282246310005';
const OPAQUE = 'q8Zr!t2Lm9Xv7Rt1';

const SECRETS: Array<[string, unknown, string, string]> = [
  ['openai project key alone', OPENAI, OPENAI, 'openai_key'],
  ['openai key in a sentence', `use ${OPENAI_LEGACY} for prod`, OPENAI_LEGACY, 'openai_key'],
  ['openai key in JSON text', `{"key":"${OPENAI}"}`, OPENAI, 'openai_key'],
  ['anthropic key', `ANTHROPIC_API_KEY=${ANTHROPIC}`, ANTHROPIC, 'anthropic_key'],
  ['anthropic key in prose', `the key ${ANTHROPIC} leaked`, ANTHROPIC, 'anthropic_key'],
  [
    'google key',
    `https://generativelanguage.googleapis.com/v1beta/models?key=${GOOGLE}`,
    GOOGLE,
    'google_api_key',
  ],
  ['google key alone', GOOGLE, GOOGLE, 'google_api_key'],
  ['aws access key', `aws_access_key_id = ${AWS}`, AWS, 'aws_access_key'],
  ['aws temporary key', `creds: ${AWS_TEMP}, region eu-west-1`, AWS_TEMP, 'aws_access_key'],
  ['jwt alone', JWT, JWT, 'jwt'],
  ['jwt in a cookie-ish string', `session=${JWT}; Path=/`, JWT, 'jwt'],
  ['bearer opaque token', `Authorization: Bearer ${OPAQUE}`, OPAQUE, 'bearer_token'],
  ['bearer jwt', `bearer ${JWT}`, JWT, 'jwt'],
  [
    'bearer in curl',
    `curl -H "Authorization: Bearer abcdef0123456789xyz" https://api`,
    'abcdef0123456789xyz',
    'bearer_token',
  ],
  ['pem rsa key', PEM, 'MIIEpAIBAAKCAQEA1c7', 'private_key'],
  ['pem ec key in a sentence', `here: ${PEM_EC} done`, 'MHcCAQEEIBkg4LVWM9nuwNSk3', 'private_key'],
  ['postgres url password', 'postgres://app:s3cr3t-P4ss@db.internal:5432/mas', 's3cr3t-P4ss', 'url_password'],
  ['redis url password', 'redis://default:AbCdEf123456@cache:6379', 'AbCdEf123456', 'url_password'],
  ['https url password', 'fetch https://bob:hunter2hunter2@example.com/x', 'hunter2hunter2', 'url_password'],
  ['amqp url password', 'amqp://guest:Gu3stPassw0rd@mq:5672/', 'Gu3stPassw0rd', 'url_password'],
  ['visa card', `card ${CARD_VISA} exp 12/29`, CARD_VISA, 'credit_card'],
  ['mastercard', `pay with ${CARD_MC}`, CARD_MC, 'credit_card'],
  ['amex', `amex:${CARD_AMEX}`, CARD_AMEX, 'credit_card'],
  ['github classic token', `token ${GITHUB}`, GITHUB, 'github_token'],
  ['github fine-grained token', GITHUB_PAT, GITHUB_PAT, 'github_token'],
  ['slack bot token', SLACK, SLACK, 'slack_token'],
  ['stripe live key', `stripe ${STRIPE}`, STRIPE, 'stripe_key'],
  [
    'password= in a query string',
    '/login?user=bob&password=Tr0ub4dor3x&next=/',
    'Tr0ub4dor3x',
    'credential_param',
  ],
  [
    'api_key= in text',
    'api_key=9f8e7d6c5b4a39281706f5e4d3c2b1a0',
    '9f8e7d6c5b4a39281706f5e4d3c2b1a0',
    'credential_param',
  ],
  ['client_secret: in yaml', 'client_secret: Zx9Yw8Vu7Ts6Rq5Po4', 'Zx9Yw8Vu7Ts6Rq5Po4', 'credential_param'],
  [
    'key password',
    { user: 'bob', password: 'correct horse battery staple' },
    'correct horse battery staple',
    'key:password',
  ],
  [
    'key Authorization header',
    { headers: { Authorization: 'Basic Ym9iOnNlY3JldA==' } },
    'Ym9iOnNlY3JldA==',
    'key:authorization',
  ],
  ['key x-api-key', { 'x-api-key': 'abc123def456ghi' }, 'abc123def456ghi', 'key:api_key'],
  ['key apiKey camelCase', { config: { apiKey: 'plainvalue123' } }, 'plainvalue123', 'key:api_key'],
  ['key access_token', { access_token: 'ya29.a0AfH6SMB' }, 'ya29.a0AfH6SMB', 'key:token'],
  ['key refreshToken', { refreshToken: '1//0gLm9Xv7Rt' }, '1//0gLm9Xv7Rt', 'key:token'],
  ['key client_secret', { oauth: [{ client_secret: 'GOCSPX-abcdef' }] }, 'GOCSPX-abcdef', 'key:secret'],
  ['key private_key', { private_key: 'raw-key-material' }, 'raw-key-material', 'key:private_key'],
  ['key cookie', { cookie: 'sid=abc123; theme=dark' }, 'sid=abc123', 'key:cookie'],
  ['key set-cookie', { 'Set-Cookie': 'session=xyz789; HttpOnly' }, 'session=xyz789', 'key:cookie'],
  ['key DB_PASSWORD', { env: { DB_PASSWORD: 'pg-pass-42' } }, 'pg-pass-42', 'key:password'],
  ['key pwd', { pwd: 'short1' }, 'short1', 'key:password'],
  ['key secret with number value', { secret: 123456789 }, '123456789', 'key:secret'],
  [
    'key token holding an object',
    { token: { value: 'nested-token-value' } },
    'nested-token-value',
    'key:token',
  ],
  ['secret nested deep in arrays', { a: [{ b: [{ c: `x ${OPENAI}` }] }] }, OPENAI, 'openai_key'],
  ['jwt glued to a word', `token${JWT}`, JWT, 'jwt'],
  ['google key glued to a word', `key${GOOGLE}`, GOOGLE, 'google_api_key'],
  ['two secrets in one string', `${AWS} and ${GOOGLE}`, GOOGLE, 'google_api_key'],
];

describe('redactSecrets: secrets are removed', () => {
  it.each(SECRETS)('%s', (_, input, secret, rule) => {
    const { value, rules } = redactSecrets(input);
    expect(JSON.stringify(value)).not.toContain(secret);
    expect(rules).toContain(rule);
  });

  it('has at least 40 secret cases', () => {
    expect(SECRETS.length).toBeGreaterThanOrEqual(40);
  });

  it('keeps the key and replaces the value with a rule marker', () => {
    expect(redactSecrets({ password: 'x1y2z3', user: 'bob' }).value).toEqual({
      password: '[REDACTED:key:password]',
      user: 'bob',
    });
    expect(redactString(`key=${OPENAI} ok`).value).toBe('key=[REDACTED:openai_key] ok');
  });

  it('reports anthropic keys as anthropic, not openai (narrow rules first)', () => {
    const { rules } = redactString(ANTHROPIC);
    expect(rules).toEqual(['anthropic_key']);
  });

  it('keeps the scheme and user of a URL with a password', () => {
    expect(redactString('postgres://app:pw123456@db:5432/mas').value).toBe(
      'postgres://app:[REDACTED:url_password]@db:5432/mas',
    );
  });

  it('redacts emails only when asked (audit), not by default (logs)', () => {
    const text = 'contact jane.doe+ops@example.co.uk now';
    expect(redactString(text).value).toBe(text);
    const audit = redactString(text, { emails: true });
    expect(audit.value).toBe('contact [REDACTED:email] now');
    expect(audit.rules).toEqual(['email']);
  });

  it('supports extra key names', () => {
    expect(redactSecrets({ session_id: 'abc', other: 'x' }, { extraKeys: ['session_id'] }).value).toEqual({
      session_id: '[REDACTED:key:custom]',
      other: 'x',
    });
  });
});

// Values that look a bit like secrets and must come out unchanged.
const LOOK_ALIKES: Array<[string, unknown]> = [
  ['max_tokens key', { max_tokens: 4096 }],
  ['tokens key', { tokens: 1200 }],
  ['tokenizer key', { tokenizer: 'cl100k_base' }],
  ['usage token counts', { usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } }],
  ['a UUID', '3f2b8c9e-4d5a-4b6c-8d7e-9f0a1b2c3d4e'],
  ['a SHA-256 hex', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['a git commit sha', 'commit 9fceb02d0ae598e95dc970b74767f19372d61af8'],
  ['a 16-digit non-Luhn number', '4111 1111 1111 1112'],
  ['an order id of card length', 'order 1234567890123456'],
  ['a phone number', '+1 (555) 010-9999'],
  ['sk alone', 'sk'],
  ['skill level', { 'skill-level': 'sk-level-3' }],
  ['a URL with @ in the path', 'https://example.com/packages/@scope/name@v2'],
  ['a URL with a user but no password', 'ssh://git@github.com/org/repo.git'],
  ['an ISO timestamp', '2026-11-24T22:10:00.000Z'],
  [
    'a base64 image prefix',
    'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk',
  ],
  ['prose about tokens', 'The model used 512 tokens and the token budget is fine.'],
  ['a model name', { model: 'gpt-4o-mini', provider: 'openai' }],
  ['a bearer word without token', 'the bearer of bad news'],
  ['an empty password field', { password: '' }],
  ['a key name mentioning keys', { keyboard: 'qwerty', monkey: 'george' }],
  ['a Luhn-valid but short number', '4242'],
  ['an email in logs mode', 'ops@example.com'],
  ['a semver', 'v1.24.3-beta.1+build.7'],
  ['a task slug with sk-', 'task-assessment-for-the-quarterly-review'],
];

describe('redactSecrets: look-alikes survive', () => {
  it.each(LOOK_ALIKES)('%s', (_, input) => {
    const { value, rules } = redactSecrets(input);
    expect(value).toEqual(input);
    expect(rules).toEqual([]);
  });

  it('has at least 20 look-alike cases', () => {
    expect(LOOK_ALIKES.length).toBeGreaterThanOrEqual(20);
  });
});

describe('redactSecrets fails closed', () => {
  it('replaces values nested deeper than the limit', () => {
    let deep: unknown = `inner ${OPENAI}`;
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const { value, rules } = redactSecrets(deep, { maxDepth: 10 });
    expect(JSON.stringify(value)).not.toContain(OPENAI);
    expect(JSON.stringify(value)).toContain('[REDACTED:too_deep]');
    expect(rules).toContain('too_deep');
  });

  it('replaces strings over the size limit whole', () => {
    const big = `${'a'.repeat(100)} ${OPENAI} ${'b'.repeat(100)}`;
    const { value, rules } = redactSecrets({ big }, { maxStringLength: 50 });
    expect(value).toEqual({ big: '[REDACTED:too_large]' });
    expect(rules).toEqual(['too_large']);
  });

  it('replaces values past the node limit', () => {
    const many = Array.from({ length: 50 }, (_, i) => (i === 49 ? OPENAI : `v${i}`));
    const { value } = redactSecrets(many, { maxNodes: 20 });
    expect(JSON.stringify(value)).not.toContain(OPENAI);
    expect(JSON.stringify(value)).toContain('too_many_values');
  });

  it('is safe on cycles, and keeps shared (non-cyclic) sub-objects', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const shared = { x: 1 };
    const { value, rules } = redactSecrets({ a, left: shared, right: shared });
    expect(value).toEqual({ a: { name: 'a', self: '[REDACTED:cycle]' }, left: { x: 1 }, right: { x: 1 } });
    expect(rules).toEqual(['cycle']);
  });

  it('never mutates its input', () => {
    const input = { password: 'pw-123456', nested: { text: `k ${OPENAI}` }, list: [AWS] };
    const copy = structuredClone(input);
    redactSecrets(input);
    expect(input).toEqual(copy);
  });

  it('handles Dates, Errors, Maps, Sets, bigint, undefined and functions', () => {
    const { value } = redactSecrets({
      when: new Date('2026-01-02T03:04:05Z'),
      err: new Error(`failed with ${OPENAI}`),
      map: new Map([['api_key', 'zzz-secret']]),
      set: new Set([AWS]),
      big: 12n,
      nothing: undefined,
      fn: () => 1,
    });
    expect(value).toEqual({
      when: '2026-01-02T03:04:05.000Z',
      err: { name: 'Error', message: 'failed with [REDACTED:openai_key]' },
      map: { api_key: '[REDACTED:key:api_key]' },
      set: ['[REDACTED:aws_access_key]'],
      big: '12',
      nothing: undefined,
      fn: undefined,
    });
  });
});

describe('helpers', () => {
  it('isSensitiveKey splits words', () => {
    for (const key of [
      'Authorization',
      'X-API-Key',
      'apiKey',
      'api_key',
      'APIKEY',
      'clientSecret',
      'db_password',
      'x-auth-token',
      'Set-Cookie',
      'privateKey',
    ]) {
      expect(isSensitiveKey(key), key).toBe(true);
    }
    for (const key of [
      'max_tokens',
      'tokens',
      'tokenizer',
      'prompt_tokens',
      'keyboard',
      'monkey',
      'author',
      'passenger',
    ]) {
      expect(isSensitiveKey(key), key).toBe(false);
    }
  });

  it('luhnValid', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });
});
