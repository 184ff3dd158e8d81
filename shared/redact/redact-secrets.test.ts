import { describe, expect, it } from 'vitest';
import { luhnValid, redactSecrets, redactString } from './index.ts';

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
const STRIPE_TEST = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';
const STRIPE_WEBHOOK = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SLACK_HOOK = 'T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
const GOOGLE_OAUTH = 'ya29.a0AfB_byC1D2e3F4g5H6i7J8k9L0m1N2o3P4q5R6s7';
const HF = 'hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PEM_OPENSSH = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBkZXZlbG9wZXJzIGRvIG5vdCBjb21taXQga2V5cw==
-----END OPENSSH PRIVATE KEY-----`;
const PGP = `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGVxyz0BCADk9Lm2Qx7Rt1Yp3Zs6Wn0\n-----END PGP PRIVATE KEY BLOCK-----`;

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
  [
    'azure storage connection string',
    'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy+/w==;EndpointSuffix=core.windows.net',
    'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy',
    'azure_connection_string',
  ],
  [
    'azure connection string in lower case, quoted',
    `{"conn":"accountkey=QWxhZGRpbjpPcGVuU2VzYW1lMTIzNDU2Nzg5MA=="}`,
    'QWxhZGRpbjpPcGVuU2VzYW1l',
    'azure_connection_string',
  ],
  [
    'azure service bus shared access key',
    'Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abcDEF123ghiJKL456mnoPQR789stuVWX0123yzAB=',
    'abcDEF123ghiJKL456mno',
    'azure_connection_string',
  ],
  [
    'azure SAS token signature',
    'https://acme.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&se=2026-12-01&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BabcdE%3D',
    'AbCdEfGhIjKlMnOpQrStUvWxYz',
    'azure_sas_signature',
  ],
  [
    'gitlab token',
    'token glpat-AbCdEfGhIjKlMnOpQrSt12 for ci',
    'glpat-AbCdEfGhIjKlMnOpQrSt12',
    'gitlab_token',
  ],
  [
    'npm token',
    'NPM_CONFIG=npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
    'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
    'npm_token',
  ],
  [
    'sendgrid key',
    'SG.AbCdEfGhIjKlMnOpQrStUv.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg',
    'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg',
    'sendgrid_key',
  ],
  [
    'digitalocean token',
    `do: dop_v1_${'0123456789abcdef'.repeat(4)}`,
    '0123456789abcdef0123456789abcdef',
    'digitalocean_token',
  ],
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

  // Added in review; most of these leaked through the first version.
  ['password in JSON text', `{"user":"bob","password":"Tr0ub4dor&3"}`, 'Tr0ub4dor&3', 'credential_param'],
  ['password in double-encoded JSON', '{\\"password\\":\\"pa ss w0rd\\"}', 'pa ss w0rd', 'credential_param'],
  ['DB_PASSWORD= in an env dump', 'PORT=8080\nDB_PASSWORD=supers3cret\n', 'supers3cret', 'credential_param'],
  [
    'aws secret in a credentials file',
    `aws_secret_access_key = ${AWS_SECRET}`,
    AWS_SECRET,
    'credential_param',
  ],
  ['CLI flag', `wrangler secret put --password=hunter22 now`, 'hunter22', 'credential_param'],
  [
    'token in a URL query',
    'GET https://api.example.com/v1/x?token=abc123def&page=2',
    'abc123def',
    'credential_param',
  ],
  [
    'basic auth header line',
    'Authorization: Basic dXNlcjpwYXNzd29yZA==',
    'dXNlcjpwYXNzd29yZA==',
    'credential_param',
  ],
  ['short bearer in a header line', 'authorization: Bearer abc12', 'abc12', 'credential_param'],
  ['cookie header line', 'Cookie: theme=dark; sid=Zk29aLq0; csrf=77fe', 'sid=Zk29aLq0', 'credential_param'],
  [
    'yaml passphrase with spaces',
    'password: correct horse battery staple',
    'horse battery',
    'credential_param',
  ],
  ['card followed by its expiry', 'card 4111 1111 1111 1111 12/29', '4111 1111 1111 1111', 'credit_card'],
  ['card after a key word', 'token: 4111 1111 1111 1111', '1111 1111 1111', 'credit_card'],
  ['card as a number', { amount: 12, card: 4111111111111111 }, '4111111111111111', 'credit_card'],
  ['two cards in one run', `${CARD_VISA} ${CARD_MC}`, '5555-5555-5555-4444', 'credit_card'],
  ['url password holding @', 'postgres://app:p@ss-w0rd@db:5432/x', 'ss-w0rd', 'url_password'],
  ['google key with a suffix', `key=${GOOGLE}_old`, GOOGLE, 'google_api_key'],
  ['stripe test key', `STRIPE_KEY ${STRIPE_TEST}`, STRIPE_TEST, 'stripe_key'],
  ['stripe webhook secret', `signing with ${STRIPE_WEBHOOK}`, STRIPE_WEBHOOK, 'stripe_key'],
  [
    'slack webhook url',
    `posting to https://hooks.slack.com/services/${SLACK_HOOK}`,
    SLACK_HOOK,
    'slack_webhook',
  ],
  ['google oauth token', `access ${GOOGLE_OAUTH}`, GOOGLE_OAUTH, 'google_oauth_token'],
  ['hugging face token', `HF ${HF}`, HF, 'huggingface_token'],
  ['openssh private key', { note: PEM_OPENSSH }, 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU', 'private_key'],
  ['pgp private key block, JSON-escaped', PGP, 'lQOYBGVxyz0BCADk9Lm2Qx7Rt1Yp3Zs6Wn0', 'private_key'],
  ['secret as an object key', { [OPENAI]: { calls: 3 } }, OPENAI, 'openai_key'],
  ['key api_keys holding a list', { api_keys: ['kA81-x', 'kB92-y'] }, 'kA81-x', 'key:api_key'],
  ['key auth (node http option)', { auth: 'admin:pa55' }, 'admin:pa55', 'key:authorization'],
  ['key smtp_pass', { smtp_pass: 'mailpw99' }, 'mailpw99', 'key:password'],
  ['header pairs from Array.from(headers)', [['x-api-key', 'k-7f3a9']], 'k-7f3a9', 'key:api_key'],
  [
    'Headers object',
    new Headers({ authorization: 'Token abc-987', accept: 'text/plain' }),
    'abc-987',
    'key:authorization',
  ],
  ['URLSearchParams', new URLSearchParams('q=1&client_secret=cs-4401'), 'cs-4401', 'key:secret'],
  ['Map with a secret key', new Map([['password', 'mp-4411']]), 'mp-4411', 'key:password'],
  ['secret in an Error cause', new Error('outer', { cause: new Error(`bad ${AWS}`) }), AWS, 'aws_access_key'],
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
    expect(redactString('{"password":"hunter2","user":"bob"}').value).toBe(
      '{"password":"[REDACTED:credential_param]","user":"bob"}',
    );
    expect(redactString('Authorization: Basic dXNlcjpwYXNz').value).toBe(
      'Authorization: Basic [REDACTED:credential_param]',
    );
  });

  it('reports anthropic keys as anthropic, not openai (narrow rules first)', () => {
    expect(redactString(ANTHROPIC).rules).toEqual(['anthropic_key']);
    expect(redactString(`api_key=${ANTHROPIC}`).rules).toEqual(['anthropic_key']);
    expect(redactString(`Authorization: Bearer ${JWT}`).rules).toEqual(['jwt']);
  });

  it('returns the fired rules deduplicated, in the order they first fired', () => {
    const { rules } = redactSecrets({ a: AWS, b: { password: 'x' }, c: `${AWS} ${OPENAI}`, d: { pwd: 'y' } });
    expect(rules).toEqual(['aws_access_key', 'key:password', 'openai_key']);
  });

  it('keeps the scheme and user of a URL with a password', () => {
    expect(redactString('postgres://app:pw123456@db:5432/mas').value).toBe(
      'postgres://app:[REDACTED:url_password]@db:5432/mas',
    );
  });

  it('redacts emails only when asked (audit), not by default (logs)', () => {
    const text = 'contact jane.doe+ops@example.co.uk now.';
    expect(redactString(text).value).toBe(text);
    const audit = redactString(text, { emails: true });
    expect(audit.value).toBe('contact [REDACTED:email] now.');
    expect(audit.rules).toEqual(['email']);
  });

  it('supports extra key names, with the same word matching as the built-ins', () => {
    const extraKeys = ['session_id', 'natureos_api_key'];
    expect(
      redactSecrets({ session_id: 'abc', sessionId: 'def', 'X-Session-Id': 'ghi', other: 'x' }, { extraKeys })
        .value,
    ).toEqual({
      session_id: '[REDACTED:key:custom]',
      sessionId: '[REDACTED:key:custom]',
      'X-Session-Id': '[REDACTED:key:custom]',
      other: 'x',
    });
    expect(redactString('session_id=s-1234 ok', { extraKeys }).value).toBe(
      'session_id=[REDACTED:credential_param] ok',
    );
    // A built-in kind wins over `custom` when both match.
    expect(redactSecrets({ natureos_api_key: 'n-1' }, { extraKeys }).rules).toEqual(['key:api_key']);
  });

  it('does not trust marker look-alikes written by a caller', () => {
    expect(redactString('password=[REDACTED:hunter2]').value).toBe('password=[REDACTED:credential_param]');
  });
});

// Values that look a bit like secrets and must come out unchanged.
const LOOK_ALIKES: Array<[string, unknown]> = [
  ['max_tokens key', { max_tokens: 4096 }],
  ['tokens key', { tokens: 1200 }],
  ['tokenizer key', { tokenizer: 'cl100k_base' }],
  ['usage token counts', { usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } }],
  ['gemini usage metadata', { usageMetadata: { promptTokenCount: 12, totalTokenCount: 40 } }],
  ['token counts in text', 'max_tokens=4096 prompt_tokens: 12 tokens: 512'],
  ['a UUID', '3f2b8c9e-4d5a-4b6c-8d7e-9f0a1b2c3d4e'],
  ['a SHA-256 hex', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['a git commit sha', 'commit 9fceb02d0ae598e95dc970b74767f19372d61af8'],
  ['a 16-digit non-Luhn number', '4111 1111 1111 1112'],
  ['an order id of card length', 'order 1234567890123456'],
  ['a millisecond timestamp', 'ts=1732481234567 and 1732481234567'],
  ['a long decimal', 'pi is 3.1415926535897932 roughly'],
  ['a 20-digit id', 'trace 41111111111111111111'],
  ['a phone number', '+1 (555) 010-9999'],
  ['sk alone', 'sk'],
  ['an azure account name', 'AccountName=acme;EndpointSuffix=core.windows.net'],
  ['a sig word in prose', 'the design sig is fine'],
  ['skill level', { 'skill-level': 'sk-level-3' }],
  ['a URL with @ in the path', 'https://example.com/packages/@scope/name@v2'],
  ['a URL with a port and @ in the path', 'https://example.com:8443/path@v2'],
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
  ['boolean flags under secret-sounding keys', { has_password: true, token_required: false }],
  ['a key name mentioning keys', { keyboard: 'qwerty', monkey: 'george', cache_key: 'user:42' }],
  ['words that contain secret words', { author: 'ann', passenger: 'bo', secretary: 'cy', pass_rate: 0.9 }],
  ['a Luhn-valid but short number', '4242'],
  ['an email in logs mode', 'ops@example.com'],
  ['a semver', 'v1.24.3-beta.1+build.7'],
  ['a task slug with sk-', 'task-assessment-for-the-quarterly-review'],
  ['short prefixes', 'AKIA ASIA AIza ghp_ xoxb- hf_ eyJ sk_live_'],
  ['a publishable stripe key', 'pk_live_51H8mQ2Lm9Xv7Rt1Yp3Zs6Wn0'],
  ['a log line', 'request route=/v1/chat/completions status=200 duration_ms=123 principal=agent-7'],
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
    expect(rules).toEqual(['too_deep']);
  });

  it('defaults to a depth of 32', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 33; i++) deep = [deep];
    expect(JSON.stringify(redactSecrets(deep).value)).toContain('too_deep');
    let shallow: unknown = 'leaf';
    for (let i = 0; i < 32; i++) shallow = [shallow];
    expect(redactSecrets(shallow).rules).toEqual([]);
  });

  it('replaces strings over the size limit whole, as values and as keys', () => {
    const big = `${'a'.repeat(100)} ${OPENAI} ${'b'.repeat(100)}`;
    expect(redactSecrets({ big }, { maxStringLength: 50 })).toEqual({
      value: { big: '[REDACTED:too_large]' },
      rules: ['too_large'],
    });
    expect(redactString(big, { maxStringLength: 50 }).value).toBe('[REDACTED:too_large]');
    expect(redactSecrets({ [big]: 1 }, { maxStringLength: 50 }).value).toEqual({ '[REDACTED:too_large]': 1 });
    expect(redactString('x'.repeat(64 * 1024 + 1)).rules).toEqual(['too_large']);
  });

  it('replaces a container that does not fit the node budget whole', () => {
    const many = Array.from({ length: 50 }, (_, i) => (i === 49 ? OPENAI : `v${i}`));
    const { value, rules } = redactSecrets({ small: [1, 2], many }, { maxNodes: 20 });
    expect(value).toEqual({ small: [1, 2], many: '[REDACTED:too_many_values]' });
    expect(rules).toEqual(['too_many_values']);
    const wide = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, i]));
    expect(redactSecrets(wide).value).toBe('[REDACTED:too_many_values]');
  });

  it('stops once the budget is spent by many small containers', () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({ id: i, text: OPENAI }));
    const out = JSON.stringify(redactSecrets(rows, { maxNodes: 40 }).value);
    expect(out).not.toContain(OPENAI);
    expect(out).toContain('too_many_values');
  });

  it('is safe on cycles, and keeps shared (non-cyclic) sub-objects', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const list: unknown[] = [1];
    list.push(list);
    const shared = { x: 1 };
    const { value, rules } = redactSecrets({ a, list, left: shared, right: shared });
    expect(value).toEqual({
      a: { name: 'a', self: '[REDACTED:cycle]' },
      list: [1, '[REDACTED:cycle]'],
      left: { x: 1 },
      right: { x: 1 },
    });
    expect(rules).toEqual(['cycle']);
  });

  it('replaces what cannot be read', () => {
    const hostile = {
      get boom(): string {
        throw new Error('no');
      },
    };
    const badJson = {
      toJSON: () => {
        throw new Error('no');
      },
    };
    expect(redactSecrets({ hostile, badJson, ok: 1 }).value).toEqual({
      hostile: '[REDACTED:unreadable]',
      badJson: '[REDACTED:unreadable]',
      ok: 1,
    });
  });

  it('never mutates its input', () => {
    const input = {
      password: 'pw-123456',
      nested: { text: `k ${OPENAI}`, list: [AWS, { token: 't' }] },
      map: new Map([['api_key', 'v']]),
    };
    const copy = structuredClone(input);
    redactSecrets(input, { emails: true });
    expect(input).toEqual(copy);
  });

  it('handles Dates, Errors, Maps, Sets, bigint, undefined, functions and binary', () => {
    const { value } = redactSecrets({
      when: new Date('2026-01-02T03:04:05Z'),
      never: new Date(Number.NaN),
      err: new Error(`failed with ${OPENAI}`),
      map: new Map<unknown, unknown>([
        ['api_key', 'zzz-secret'],
        [7, 'seven'],
      ]),
      set: new Set([AWS]),
      big: 12n,
      nothing: undefined,
      fn: () => 1,
      sym: Symbol('s'),
      bytes: new Uint8Array([1, 2, 3]),
      url: new URL('https://u:pw-9876@example.com/x'),
    });
    expect(value).toEqual({
      when: '2026-01-02T03:04:05.000Z',
      never: null,
      err: { name: 'Error', message: 'failed with [REDACTED:openai_key]' },
      map: { api_key: '[REDACTED:key:api_key]', 7: 'seven' },
      set: ['[REDACTED:aws_access_key]'],
      big: '12',
      nothing: undefined,
      fn: undefined,
      sym: undefined,
      bytes: '[REDACTED:binary]',
      url: 'https://u:[REDACTED:url_password]@example.com/x',
    });
    expect(JSON.stringify(value)).not.toContain('stack');
  });

  it('keeps a `__proto__` key a plain property', () => {
    const input = JSON.parse('{"__proto__": {"password": "p-1"}, "a": 1}') as unknown;
    const value = redactSecrets<Record<string, unknown>>(input).value;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(JSON.stringify(value)).toBe('{"__proto__":{"password":"[REDACTED:key:password]"},"a":1}');
  });
});

describe('luhnValid', () => {
  it('checks the Luhn sum over 13 to 19 digits', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('4242')).toBe(false);
  });
});
