import { describe, expect, it } from 'vitest';
import { classify, classifyIntegrationWrite, isStricter, readAmount } from './index.ts';

describe('the action registry', () => {
  it('the registry’s category wins over a looser claim; a stricter claim is kept', () => {
    expect(classify({ action_type: 'pay', tool_name: 'bank.pay', category: 'read' })).toMatchObject({
      registered: true,
      effective: 'financial',
      claimed: 'read',
      decided_by: 'tools.bank.pay',
      amount_path: 'payment.amount',
    });
    expect(classify({ action_type: 'search', category: 'security' })).toMatchObject({
      effective: 'security',
      decided_by: 'claimed',
    });
  });

  it('a tool and an action type both classified: the stricter decides', () => {
    // A read-only tool name cannot launder a financial action type.
    expect(classify({ action_type: 'wire_transfer', tool_name: 'web.search' }).effective).toBe('financial');
  });

  it('an unregistered tool is unregistered even under a registered action type', () => {
    expect(classify({ action_type: 'search', tool_name: 'crm.export' }).registered).toBe(false);
    expect(classify({ action_type: 'never-heard-of-it' }).registered).toBe(false);
  });

  it('names are own properties only', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(classify({ action_type: name, tool_name: name }).registered).toBe(false);
      expect(classifyIntegrationWrite(name, 'POST', '/x').registered).toBe(false);
    }
    expect(readAmount({ payment: { amount: 5 } }, 'payment.amount')).toBe(5);
    expect(readAmount({}, 'constructor')).toBeUndefined();
    expect(readAmount({ a: [1] }, 'a.length')).toBeUndefined();
  });

  it('integration writes are classified by route, first match wins', () => {
    expect(classifyIntegrationWrite('mindex', 'DELETE', '/resources/x')).toMatchObject({
      effective: 'destructive',
      risk: 'Deletes MINDEX resources.',
    });
    expect(classifyIntegrationWrite('website', 'POST', '/pages/x').registered).toBe(false);
  });

  it('orders categories from read to security; unknown names are strictest', () => {
    expect(isStricter('financial', 'external_write')).toBe(true);
    expect(isStricter('read', 'internal_write')).toBe(false);
    expect(isStricter('teleport', 'security')).toBe(true);
  });
});
