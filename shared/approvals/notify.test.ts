import { describe, expect, it } from 'vitest';
import { slackEscape, slackText } from './notify.ts';
import { webhookUrlProblem } from './webhook-url.ts';

describe('webhook URLs', () => {
  it.each([
    'http://127.0.0.1:9000/hook',
    'http://localhost/hook',
    'http://api.localhost/hook',
    'http://2130706433/hook', // 127.0.0.1 as one number
    'http://0x7f.1/hook',
    'http://0/hook',
    'http://10.1.2.3/hook',
    'http://172.16.0.9/hook',
    'http://192.168.1.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/hook',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[fe80::1]/hook',
    'http://[fd00::1]/hook',
    'http://printer.local/hook',
    'http://metadata.google.internal/computeMetadata/v1/',
  ])('refuses %s unless private targets are allowed', (url) => {
    expect(webhookUrlProblem(url, false)).not.toBeNull();
    expect(webhookUrlProblem(url, true)).toBeNull();
  });

  it.each([
    'https://hooks.slack.com/services/T0/B0/x',
    'https://example.com/hook',
    'http://8.8.8.8/hook',
    'https://[2001:db8::1]/h',
  ])('accepts the public %s', (url) => {
    expect(webhookUrlProblem(url, false)).toBeNull();
  });

  it('refuses other schemes and credentials in the URL, allowed or not', () => {
    expect(webhookUrlProblem('ftp://example.com/x', true)).toBe('not http(s)');
    expect(webhookUrlProblem('https://user:pw@example.com/x', true)).toBe('credentials in the URL');
    expect(webhookUrlProblem('not a url', true)).toBe('not a URL');
  });
});

describe('Slack text', () => {
  it('escapes &, < and > in every interpolated field', () => {
    const hostile = '<!channel> <https://evil.example|Click here> & more';
    const text = slackText({
      type: 'approval.decided',
      approval: {
        id: hostile,
        action_id: 'a',
        status: hostile,
        principal: hostile,
        agent_id: `${hostile}-agent`,
        action_type: hostile,
        category: hostile,
        decided_by: hostile,
        reason: hostile,
      },
    });
    expect(text).not.toMatch(/[<>]/);
    expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect(text).toContain('&lt;!channel&gt; &lt;https://evil.example|Click here&gt; &amp; more');
    for (const type of ['approval.pending', 'approval.expired'] as const) {
      const other = slackText({
        type,
        escalated: true,
        approval: {
          id: hostile,
          action_id: 'a',
          status: 'pending',
          agent_id: hostile,
          action_type: hostile,
          category: hostile,
          risk: hostile,
        },
      });
      expect(other).not.toMatch(/[<>]/);
    }
    expect(slackEscape('a&b<c>d')).toBe('a&amp;b&lt;c&gt;d');
  });
});
