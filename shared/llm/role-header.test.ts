import { describe, expect, it } from 'vitest';
import { roleHeaderFor } from './registry.ts';

/** A request whose header reads are counted. */
function request(headers: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    req: {
      header(name: string) {
        reads.push(name);
        return headers[name];
      },
    },
  };
}

describe('roleHeaderFor', () => {
  it('reads x-mas-role when no model is given (absent, empty or blank)', () => {
    for (const model of [undefined, '', '   ']) {
      const { req, reads } = request({ 'x-mas-role': 'planning' });
      expect(roleHeaderFor(req, model)).toBe('planning');
      expect(reads).toEqual(['x-mas-role']);
    }
    expect(roleHeaderFor(request({}).req, undefined)).toBeUndefined();
  });

  it('does not read it at all beside a model: the model decides, whatever the header says', () => {
    for (const model of ['planning', 'role:planning', ' good ']) {
      const { req, reads } = request({ 'x-mas-role': 'r'.repeat(201) });
      expect(roleHeaderFor(req, model)).toBeUndefined();
      expect(reads).toEqual([]);
    }
  });
});
