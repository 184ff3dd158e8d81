import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RedactOptions, redactSecrets, redactString } from './index.ts';
import { emailRule, valueRules } from './redact-rules.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const chars = (alphabet: string, min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max });
const alnum = (min: number, max: number) => chars(ALNUM, min, max);
/** Ends in a digit and a capital, so it can never be spelled by the lower-case filler words. */
const secretish = (min: number, max: number) => alnum(min, max).map((s) => `${s}9Z`);

/** A secret as it appears in text, the part that must not survive, and whether it may be glued. */
interface Planted {
  text: string;
  secret: string;
  /** Distinctive prefixes are found even glued to other letters; the rest need a separator. */
  glued: boolean;
  options?: RedactOptions;
}
const plant = (text: string, secret = text, glued = true, options?: RedactOptions): Planted => ({
  text,
  secret,
  glued,
  ...(options ? { options } : {}),
});

function luhnComplete(body: string): string {
  for (let check = 0; check <= 9; check++) {
    const digits = `${body}${check}`;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

const card = fc
  .tuple(
    fc.constantFrom('4', '51', '55', '37', '6011', '2221', '35'),
    fc.integer({ min: 13, max: 19 }),
    chars('0123456789', 19, 19),
    fc.constantFrom('', ' ', '-'),
  )
  .map(([prefix, length, filler, sep]) => {
    const digits = luhnComplete(`${prefix}${filler}`.slice(0, length - 1));
    const formatted = sep ? (digits.match(/.{1,4}/g) ?? []).join(sep) : digits;
    return plant(formatted, formatted, false);
  });

const pem = fc
  .tuple(
    fc.constantFrom('', 'RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED '),
    fc.array(alnum(20, 64), { minLength: 1, maxLength: 4 }),
  )
  .map(([kind, lines]) => {
    const body = lines.map((l) => `${l}+/9Z`).join('\n');
    return plant(`-----BEGIN ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----`, body);
  });

const credential = fc
  .tuple(
    fc.constantFrom(
      'password',
      'api_key',
      'client_secret',
      'DB_PASSWORD',
      'x-api-key',
      'access_token',
      'apiKey',
      'aws_secret_access_key',
      'Authorization',
      'Cookie',
    ),
    fc.constantFrom('k=v', 'k: v', 'k = v', '"k":"v"', '"k": "v"', "k: 'v'", '--k=v', '?k=v&x=1'),
    secretish(4, 30),
  )
  .map(([key, style, value]) => plant(style.replace('k', key).replace('v', value), value, false));

const email = fc
  .tuple(
    chars('abcdefghijklmnopqrstuvwxyz0123456789._+-', 1, 20),
    alnum(1, 12),
    fc.constantFrom('com', 'io', 'co.uk'),
  )
  .map(([local, domain, tld]) => {
    const address = `${local}9Z@${domain}.${tld}`;
    return plant(address, address, false, { emails: true });
  });

/** Generators of secrets of every kind the redactor knows by value, by the rule that knows them. */
const byRule: Record<string, fc.Arbitrary<Planted>> = {
  private_key: pem,
  anthropic_key: alnum(24, 48).map((s) => plant(`sk-ant-api03-${s}`)),
  openai_key: fc.oneof(
    alnum(24, 48).map((s) => plant(`sk-proj-${s}`, `sk-proj-${s}`, false)),
    alnum(24, 48).map((s) => plant(`sk-${s}`, `sk-${s}`, false)),
  ),
  stripe_key: fc.oneof(
    fc
      .tuple(fc.constantFrom('sk_live_', 'rk_live_', 'sk_test_', 'rk_test_'), alnum(16, 40))
      .map(([p, s]) => plant(`${p}${s}`)),
    alnum(24, 40).map((s) => plant(`whsec_${s}`)),
  ),
  github_token: fc.oneof(
    fc
      .tuple(fc.constantFrom('ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'), alnum(36, 40))
      .map(([p, s]) => plant(`${p}${s}`)),
    alnum(22, 60).map((s) => plant(`github_pat_${s}`)),
  ),
  slack_token: fc.oneof(
    fc
      .tuple(fc.constantFrom('xoxb-', 'xoxp-', 'xoxa-', 'xoxs-'), alnum(20, 30))
      .map(([p, s]) => plant(`${p}${s}`)),
    fc.tuple(fc.integer({ min: 1, max: 9 }), alnum(12, 30)).map(([d, s]) => plant(`xapp-${d}-${s}`)),
  ),
  slack_webhook: fc
    .tuple(fc.constantFrom('services', 'workflows', 'triggers'), alnum(9, 11), alnum(9, 11), alnum(20, 24))
    .map(([kind, a, b, c]) =>
      plant(`https://hooks.slack.com/${kind}/T${a}/B${b}/${c}`, `T${a}/B${b}/${c}`, false),
    ),
  google_api_key: chars(`${ALNUM}_-`, 35, 35).map((s) => plant(`AIza${s}`)),
  google_oauth_token: alnum(20, 60).map((s) => plant(`ya29.${s}`)),
  huggingface_token: alnum(34, 40).map((s) => plant(`hf_${s}`, `hf_${s}`, false)),
  aws_access_key: fc
    .tuple(fc.constantFrom('AKIA', 'ASIA'), chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 16))
    .map(([p, s]) => plant(`${p}${s}`)),
  azure_connection_string: fc
    .tuple(
      fc.constantFrom('AccountKey', 'accountkey', 'SharedAccessKey', 'SharedAccessSignature'),
      alnum(20, 60),
    )
    .map(([k, s]) => plant(`AccountName=acme;${k}=${s}+/w==`, `${s}+/w==`, false)),
  azure_sas_signature: alnum(20, 60).map((s) =>
    plant(`https://acme.blob.core.windows.net/c/f?sv=2022-11-02&sig=${s}%3D`, `${s}%3D`, false),
  ),
  gitlab_token: alnum(20, 30).map((s) => plant(`glpat-${s}`)),
  npm_token: alnum(36, 36).map((s) => plant(`npm_${s}`, `npm_${s}`, false)),
  sendgrid_key: fc.tuple(alnum(22, 22), alnum(43, 43)).map(([a, b]) => plant(`SG.${a}.${b}`)),
  digitalocean_token: fc
    .tuple(fc.constantFrom('dop', 'doo', 'dor'), chars('0123456789abcdef', 64, 64))
    .map(([p, s]) => plant(`${p}_v1_${s}`)),
  jwt: fc
    .tuple(alnum(10, 30), alnum(10, 40), alnum(20, 43))
    .map(([a, b, c]) => plant(`eyJ${a}.eyJ${b}.${c}`)),
  bearer_token: secretish(8, 40).map((s) => plant(`Bearer ${s}`, s, false)),
  url_password: fc
    .tuple(
      fc.constantFrom('postgres', 'redis', 'https', 'amqp', 'mongodb+srv'),
      chars('abcdefgh', 0, 8),
      secretish(6, 24),
    )
    .map(([scheme, user, pass]) => plant(`${scheme}://${user}:${pass}@db.internal:5432/x`, pass, false)),
  credit_card: card,
  credential_param: credential,
  email,
};
const secret: fc.Arbitrary<Planted> = fc.oneof(...Object.values(byRule));

const filler = chars(' .,;!?()[]{}\n\t"\'|<>', 1, 12);
const gluedFiller = fc.oneof(filler, alnum(0, 6));
const words = fc
  .array(fc.constantFrom('the', 'call', 'agent', 'used', 'key', 'and', 'then', 'failed', 'token', 'bearer'), {
    maxLength: 6,
  })
  .map((w) => w.join(' '));

/** Every string and key in a redacted value (JSON escaping would hide newlines and quotes). */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

const surrounded = fc
  .tuple(words, filler, gluedFiller, secret, filler, gluedFiller, words)
  .map(([w1, f1, g1, s, f2, g2, w2]) => ({
    text: `${w1}${s.glued ? g1 : f1}${s.text}${s.glued ? g2 : f2}${w2}`,
    planted: s,
  }));

/**
 * Always with a separator: a word glued to a secret becomes a new word glued to its marker
 * (`KEY-----then` → `[REDACTED:private_key]then`), which a second pass may read differently.
 */
const separated = fc
  .tuple(words, filler, secret, filler, words)
  .map(([w1, f1, s, f2, w2]) => ({ text: `${w1}${f1}${s.text}${f2}${w2}`, planted: s }));

describe('redactor properties', () => {
  it('has a secret generator for every value rule, so a new rule cannot go untested', () => {
    expect(Object.keys(byRule).sort()).toEqual([...valueRules(), emailRule()].map((r) => r.name).sort());
  });

  it.each(Object.keys(byRule))(
    'no string containing a generated %s secret comes out containing it',
    (rule) => {
      fc.assert(
        fc.property(words, filler, byRule[rule]!, filler, words, (w1, f1, s, f2, w2) => {
          const { value, rules } = redactString(`${w1}${f1}${s.text}${f2}${w2}`, s.options);
          expect(value).not.toContain(s.secret);
          expect(rules.length).toBeGreaterThan(0);
        }),
        { numRuns: 150 },
      );
    },
  );

  it('no string containing a generated secret comes out containing it', () => {
    fc.assert(
      fc.property(surrounded, ({ text, planted }) => {
        const { value, rules } = redactString(text, planted.options);
        expect(value).not.toContain(planted.secret);
        expect(rules.length).toBeGreaterThan(0);
      }),
      { numRuns: 1500 },
    );
  });

  it('no object holding a generated secret anywhere comes out containing it', () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string({ maxLength: 10 }),
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(chars('abcdefgh_', 1, 6), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    const where = fc.constantFrom('value', 'key', 'array', 'map');
    fc.assert(
      fc.property(tree, surrounded, fc.array(fc.nat(5), { maxLength: 4 }), where, (base, s, path, how) => {
        const root: Record<string, unknown> = { data: base };
        let cursor = root;
        for (const step of path) {
          const next: Record<string, unknown> = { [`k${step}`]: cursor[`k${step}`] ?? null };
          cursor[`n${step}`] = next;
          cursor = next;
        }
        if (how === 'value') cursor.value = s.text;
        else if (how === 'key') cursor[s.text] = 1;
        else if (how === 'array') cursor.list = [1, s.text, null];
        else cursor.map = new Map([['note', s.text]]);
        const out = redactSecrets(root, s.planted.options).value;
        for (const text of strings(out)) expect(text).not.toContain(s.planted.secret);
      }),
      { numRuns: 500 },
    );
  });

  it('is idempotent: redacting twice changes nothing more', () => {
    fc.assert(
      fc.property(separated, ({ text, planted }) => {
        const once = redactString(text, planted.options).value;
        expect(redactString(once, planted.options)).toEqual({ value: once, rules: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('leaves plain text with ids, hashes and small numbers alone', () => {
    const piece = fc.oneof(
      fc.constantFrom('the', 'model', 'used', 'tokens', 'max_tokens=512', 'skill-level', 'route=/v1/chat'),
      fc.uuid(),
      chars('0123456789abcdef', 40, 64),
      fc.integer({ min: 0, max: 999_999_999 }).map((n) => `n=${n}`),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const text = pieces.join(' ');
        expect(redactString(text)).toEqual({ value: text, rules: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('never mutates its input (a deep-frozen input goes through)', () => {
    const deepFreeze = (value: unknown): unknown => {
      if (value && typeof value === 'object') {
        for (const v of Object.values(value)) deepFreeze(v);
        Object.freeze(value);
      }
      return value;
    };
    fc.assert(
      fc.property(fc.jsonValue(), surrounded, (json, s) => {
        const input = deepFreeze({ json, note: s.text, nested: [{ password: s.text }] });
        const before = JSON.stringify(input);
        redactSecrets(input, s.planted.options);
        expect(JSON.stringify(input)).toBe(before);
      }),
      { numRuns: 200 },
    );
  });
});
