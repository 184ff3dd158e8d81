import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { type Stack, startStack } from '../../local/stack.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startDevWorker } from './dev-worker.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const AGENT_KEY = 'mas_page_test_agent_key_0123456789';
const APPROVER_KEY = 'mas_page_test_approver_key_0123456789';

// The approvals page in a real browser, end to end: sign in, approve one action, reject another.
describe.skipIf(!CHROMIUM)('approvals page in headless Chromium', () => {
  let stack: Stack;
  let worker: Unstable_DevWorker;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    stack = await startStack({ env: process.env, migrationsDir: 'migrations', noPushgateway: true });
    worker = await startDevWorker(undefined, {
      ...stack.settings,
      MAS_API_KEYS: `page-agent:agent:${await sha256Hex(AGENT_KEY)}:page-bot,page-approver:approver:${await sha256Hex(APPROVER_KEY)}`,
      APPROVAL_SECRET: 'page-test-secret-0123456789',
    });
    base = `http://${worker.address}:${worker.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await stack?.stop();
  });

  async function gatedAction(
    inputs: Record<string, unknown>,
    category = 'external_write',
  ): Promise<{ action_id: string; approval: { id: string } }> {
    const res = await fetch(`${base}/v1/audit/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT_KEY}` },
      body: JSON.stringify({
        agent_id: 'page-bot',
        agent_name: 'Page Bot',
        action_type: 'send_email',
        category,
        inputs,
      }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { action_id: string; approval: { id: string } };
  }

  async function approvalStatus(
    id: string,
  ): Promise<{ status: string; reason: string | null; decided_by: string | null }> {
    const res = await fetch(`${base}/v1/approvals/${id}`, {
      headers: { authorization: `Bearer ${AGENT_KEY}` },
    });
    return (await res.json()) as { status: string; reason: string | null; decided_by: string | null };
  }

  it('signs in, approves one action and rejects another with a reason; untrusted inputs stay text', async () => {
    const toApprove = await gatedAction({ to: 'team@example.org', subject: 'weekly report' });
    const xss = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
    const toReject = await gatedAction({ to: 'all@example.org', subject: xss });

    const page = await browser.newPage();
    await page.goto(`${base}/approvals`);
    await page.fill('input[name=key]', APPROVER_KEY);
    await page.click('button[type=submit]');
    await expect.poll(() => page.locator(`[data-approval="${toApprove.approval.id}"]`).count()).toBe(1);

    // The payload is shown as text and never runs.
    const card = page.locator(`[data-approval="${toReject.approval.id}"]`);
    expect(await card.locator('pre').textContent()).toContain('<script>window.__xss = 1</script>');
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    // Emails in inputs are redacted before they are stored, so the page never shows them.
    expect(await card.locator('pre').textContent()).not.toContain('all@example.org');

    await page
      .locator(`[data-approval="${toApprove.approval.id}"] textarea[name=reason]`)
      .fill('routine report');
    await page.locator(`[data-approval="${toApprove.approval.id}"] button[value=approve]`).click();
    await page.waitForURL(/flash=/);
    await page
      .locator(`[data-approval="${toReject.approval.id}"] textarea[name=reason]`)
      .fill('do not email everyone');
    await page.locator(`[data-approval="${toReject.approval.id}"] button[value=reject]`).click();
    await page.waitForURL(/flash=/);

    expect(await approvalStatus(toApprove.approval.id)).toMatchObject({
      status: 'approved',
      decided_by: 'page-approver',
    });
    expect(await approvalStatus(toReject.approval.id)).toMatchObject({
      status: 'rejected',
      reason: 'do not email everyone',
    });
    expect(await page.locator(`[data-decided="${toReject.approval.id}"]`).textContent()).toContain(
      'rejected',
    );
    await page.close();
  }, 60_000);

  async function signedIn(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/approvals`);
    await page.fill('input[name=key]', APPROVER_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-signed-in]');
    return { context, page };
  }

  it('is live: a new approval appears without a reload, and disappears when a second approver decides it', async () => {
    const watcher = await signedIn();
    const violations: string[] = [];
    watcher.page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    const marker = `live-${Date.now()}`;
    const action = await gatedAction({ subject: marker });
    const card = watcher.page.locator(`[data-approval="${action.approval.id}"]`);
    // No navigation: the page's own script polls and adds the card.
    await expect.poll(() => card.count(), { timeout: 20_000 }).toBe(1);
    expect(await card.locator('[data-principal]').textContent()).toBe('page-agent');
    expect(await card.textContent()).toContain('acting as page-bot');
    expect(await card.textContent()).toContain('calls itself “Page Bot”');

    const decider = await signedIn();
    const theirs = decider.page.locator(`[data-approval="${action.approval.id}"]`);
    await theirs.locator('textarea[name=reason]').fill('fine by me');
    await theirs.locator('button[value=approve]').click();
    await decider.page.waitForURL(/flash=/);
    expect((await approvalStatus(action.approval.id)).status).toBe('approved');
    await expect.poll(() => card.count(), { timeout: 20_000 }).toBe(0);

    // The detail view shows the ledger history of the action, decision included.
    await watcher.page.goto(`${base}/approvals/${action.approval.id}`);
    const history = await watcher.page.locator('[data-history]').textContent();
    expect(history).toContain('action');
    expect(history).toContain('decision');
    expect(history).toContain('page-approver');
    expect(violations).toEqual([]);
    await watcher.context.close();
    await decider.context.close();
  }, 90_000);

  it('filters by category and agent', async () => {
    const email = await gatedAction({ n: 'filter-email' });
    const wipe = await gatedAction({ n: 'filter-wipe' }, 'destructive');
    const { context, page } = await signedIn();
    await page.selectOption('select[name=category]', 'destructive');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/category=destructive/);
    expect(await page.locator(`[data-approval="${wipe.approval.id}"]`).count()).toBe(1);
    expect(await page.locator(`[data-approval="${email.approval.id}"]`).count()).toBe(0);
    await page.goto(`${base}/approvals?agent_id=nobody-else`);
    expect(await page.locator('[data-approval]').count()).toBe(0);
    await context.close();
  }, 60_000);

  it('refuses form posts without the session’s CSRF token, and agent keys at sign-in', async () => {
    const action = await gatedAction({ n: 1 });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/approvals`);
    await page.fill('input[name=key]', AGENT_KEY);
    await page.click('button[type=submit]');
    expect(await page.locator('.flash').textContent()).toContain('not an approver key');

    await page.fill('input[name=key]', APPROVER_KEY);
    await page.click('button[type=submit]');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'mas_approvals_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    const forged = await fetch(`${base}/approvals/${action.approval.id}/decide`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `mas_approvals_session=${session?.value}`,
      },
      body: 'decision=approve&csrf=forged',
      redirect: 'manual',
    });
    expect(forged.status).toBe(403);
    expect((await approvalStatus(action.approval.id)).status).toBe('pending');
    await context.close();
  }, 60_000);
});
