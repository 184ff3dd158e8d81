import { describe, expect, it } from 'vitest';
import { formatDotEnv, quoteDotEnvValue } from './dotenv.ts';

// What wrangler's parser (dotenv + dotenv-expand) reads back is checked end to end by
// test/node/npm-start-settings.test.ts under `npm run dev`; these pin the form chosen.
describe('quoteDotEnvValue', () => {
  it('single quotes unless the value holds one; then backticks; then double quotes', () => {
    expect(quoteDotEnvValue('a "b"\nc')).toBe(`'a "b"\nc'`);
    expect(quoteDotEnvValue(`it's "x"`)).toBe('`it\'s "x"`');
    expect(quoteDotEnvValue("it's `x`\nnext")).toBe('"it\'s `x`\nnext"');
  });

  it('escapes every $ against dotenv-expand, and writes a CR as \\r inside double quotes', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${NAME}, as dotenv-expand reads it
    expect(quoteDotEnvValue('$HOME and ${PATH} and \\$')).toBe("'\\$HOME and \\${PATH} and \\\\$'");
    expect(quoteDotEnvValue('a\r\nb')).toBe('"a\\r\nb"');
  });

  it('refuses what no form carries, naming the setting', () => {
    expect(quoteDotEnvValue('ends with \\')).toBeUndefined();
    expect(quoteDotEnvValue(`' \` "`)).toBeUndefined();
    expect(() => formatDotEnv({ OK: 'x', BAD: `' \` "` })).toThrow(/^BAD cannot be written/);
    expect(formatDotEnv({ A: 'x', B: "y'" })).toBe("A='x'\nB=`y'`\n");
  });
});
