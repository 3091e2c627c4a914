// The dashboard in headless Chromium: sign in, connect through the emulator, sync, find the segment, page, chart.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { signHeapHash } from '../../src/webhook/signature';
import {
  describeBrowser,
  openBrowser,
  requireBrowserUnderCi,
  type Browser,
} from '../support/browser';
import { startLiveApp, type LiveApp } from '../support/liveApp';

const SCREENSHOTS = path.join(__dirname, '..', '..', 'test-output', 'dashboard');
const ADMIN_TOKEN = 'browser-test-admin-token-0123456789';
const HUB_API = '/heap-emulator/api/hub';
/** Escaped everywhere: if any view used innerHTML, this would set window.__xss. */
const SEGMENT_NAME = 'Trial users <img src=x onerror="window.__xss=1">';

requireBrowserUnderCi();

async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function hub(app: LiveApp, pathname: string, body?: unknown) {
  const res = await fetch(`${app.url}${HUB_API}${pathname}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Starts a sync in the emulator's Developers Hub and waits until every page was delivered. */
async function runSync(app: LiveApp, request: Record<string, unknown>) {
  const started = await hub(app, '/syncs', request);
  expect(started.status).toBe(202);
  for (;;) {
    const run = await hub(app, `/syncs/${started.body.id as string}`);
    if (run.body.state !== 'running') {
      expect(run.body.state).toBe('succeeded');
      return run.body;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function memberIdsOnPage(page: Page): Promise<string[]> {
  return page.locator('.member-id').allTextContents();
}

/** Pixels of the chart's line colour (#5b3df5) actually painted on the canvas. */
async function chartLinePixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.getElementById('size-chart') as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 200 && Math.abs(r - 91) < 30 && Math.abs(g - 61) < 30 && Math.abs(b - 245) < 30) {
        count += 1;
      }
    }
    return count;
  });
}

describeBrowser('dashboard in Chromium', () => {
  let app: LiveApp;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await app?.close();
  });

  it('signs in, connects Heap, shows a synced segment with its members, chart and tasks, and the deliveries', async () => {
    app = await startLiveApp({ ADMIN_TOKEN });
    browser = await openBrowser();
    const { page } = browser;

    // Sign in: a wrong token is refused, the right one opens the overview.
    await page.goto(`${app.url}/`);
    await page.fill('#admin-token', 'not-the-token');
    await page.click('#sign-in button[type=submit]');
    await expectText(page, '.error-text', 'That is not the admin token.');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('main[data-route="overview"] .tile');
    expect(await page.isVisible('#nav')).toBe(true);
    expect(await page.textContent('main')).toContain('No Heap environment is connected yet.');
    const hubLink = await page.getAttribute('.hub-link', 'href');
    expect(hubLink).toBe(`${app.url}/heap-emulator/developers-hub`);

    // Connect Heap through the emulator's consent page, like a customer would.
    await page.click('header button:has-text("Connect Heap")');
    await page.waitForURL(/\/heap-emulator\//);
    await page.click('button:has-text("Approve")');
    await page.waitForURL(/\/api\/oauth_redirect/);
    expect(await page.textContent('h1')).toContain('Heap is connected');
    await page.click('a:has-text("Back to the app")');
    await page.waitForSelector('[data-table="connections"]');
    const [connection] = await app.store.listConnections();
    expect(await page.textContent('[data-table="connections"]')).toContain(connection.envId);

    // Heap (the emulator's Developers Hub) syncs a segment of 230 users, then some churn.
    const first = await runSync(app, {
      segment_id: 4242,
      segment_name: SEGMENT_NAME,
      id_token: connection.idToken,
      users: 230,
      page_size: 50,
    });
    expect(first.total_pages).toBe(5);
    await runSync(app, {
      segment_id: 4242,
      id_token: connection.idToken,
      churn: { add: 40, remove: 15 },
      page_size: 50,
    });
    const emulated = (await hub(app, '/segments')).body.segments as {
      segment_id: number;
      members: string[];
    }[];
    const expected = emulated.find((s) => s.segment_id === 4242)!.members.sort();
    expect(expected).toHaveLength(255);
    // And a forged delivery, which the overview and the log must show as rejected.
    const forged = await fetch(`${app.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'heap-hash': signHeapHash('wrong', '{}') },
      body: '{}',
    });
    expect(forged.status).toBe(403);
    // And a signed one that cannot be applied: a row of its own in the log.
    const invalid = '{"action_type": "segment.users.sync"}';
    const unusable = await fetch(`${app.url}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'heap-hash': signHeapHash(app.config.webhook.secrets[0], invalid),
      },
      body: invalid,
    });
    expect(unusable.status).toBe(400);

    // The overview finds the segment and its member count.
    await page.reload();
    const row = page.locator('[data-table="segments"] tbody tr[data-segment="4242"]');
    await row.waitFor();
    expect(await row.locator('a').textContent()).toBe(SEGMENT_NAME);
    expect(await row.locator('[data-members]').getAttribute('data-members')).toBe('255');
    expect(await page.textContent('[data-list="rejected-reasons"]')).toContain('invalid_signature');
    await screenshot(page, 'overview');

    // The segment page: title, count, chart, sync task progress.
    await row.click();
    await page.waitForSelector('[data-table="members"]');
    expect(await page.textContent('#segment-title')).toBe(SEGMENT_NAME);
    expect(await page.textContent('#member-count')).toBe('255');
    const progress = await page.locator('.task-progress').allTextContents();
    expect(progress).toContain('page 5 of 5');
    expect(progress).toHaveLength(2);
    expect(await page.locator('[data-table="sync-tasks"] .badge.ok').count()).toBe(2);

    const history = await page.evaluate(
      async (url) => {
        const res = await fetch(url);
        return (await res.json()) as { points: { member_count: number }[] };
      },
      '/api/connections/' + encodeURIComponent(connection.idToken) + '/segments/4242/size-history',
    );
    const canvas = page.locator('#size-chart');
    expect(await canvas.getAttribute('data-points')).toBe(String(history.points.length));
    expect(history.points.length).toBeGreaterThanOrEqual(6);
    expect(await canvas.getAttribute('data-max')).toBe(
      String(Math.max(...history.points.map((p) => p.member_count))),
    );
    expect(await chartLinePixels(page)).toBeGreaterThan(300);
    await screenshot(page, 'segment');

    // Page through the members, 50 at a time: every member exactly once, then back.
    const firstPage = await memberIdsOnPage(page);
    expect(firstPage).toHaveLength(50);
    const seen = [...firstPage];
    let pages = 1;
    while (await page.isEnabled('#members-next')) {
      const before = (await memberIdsOnPage(page))[0];
      await page.click('#members-next');
      await page.waitForFunction(
        (previous) => document.querySelector('.member-id')?.textContent !== previous,
        before,
      );
      seen.push(...(await memberIdsOnPage(page)));
      pages += 1;
    }
    expect(pages).toBe(6);
    expect(seen).toEqual(expected);
    expect(await page.textContent('#members-status')).toBe('Showing 251–255 of 255');
    await page.click('#members-prev');
    await page.waitForFunction(
      () => document.getElementById('members-status')?.textContent === 'Showing 201–250 of 255',
    );

    // Search by prefix.
    const prefix = expected[37].slice(0, -3);
    await page.fill('#member-search', prefix);
    await page.waitForFunction((p) => {
      const ids = [...document.querySelectorAll('.member-id')].map((el) => el.textContent ?? '');
      return ids.length > 0 && ids.every((id) => id.startsWith(p));
    }, prefix);
    expect(await memberIdsOnPage(page)).toEqual(
      expected.filter((id) => id.startsWith(prefix)).slice(0, 50),
    );

    // The CSV download holds the same members.
    const csvHref = await page.getAttribute('a:has-text("Download CSV")', 'href');
    const csv = await page.evaluate(async (href) => (await fetch(href!)).text(), csvHref);
    expect(csv.split('\r\n').slice(1, -1)).toEqual(expected);

    // Deliveries: the log, filtered to the rejected one.
    await page.click('#nav a[data-nav="deliveries"]');
    await page.waitForSelector('[data-table="deliveries"]');
    expect(await page.locator('[data-table="deliveries"] tbody tr').count()).toBeGreaterThan(5);
    await page.selectOption('#delivery-filters select[name="status"]', 'rejected');
    await page.click('#delivery-filters button[type=submit]');
    await page.waitForFunction(() => location.hash.includes('status=rejected'));
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-table="deliveries"] tbody tr').length === 1 &&
        document
          .querySelector('[data-table="deliveries"] tbody tr')
          ?.getAttribute('data-status') === 'rejected',
    );
    expect(await page.textContent('[data-table="deliveries"] tbody')).toContain('invalid_payload');
    // The forged one is counted, by minute and reason, not logged as a row.
    expect(await page.textContent('[data-table="refusals"] tbody')).toContain('invalid_signature');
    await screenshot(page, 'deliveries');

    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(browser.errors).toEqual([]);

    // Signing out ends the session for the API too, and for a copy of the cookie taken before.
    const [copied] = (await browser.context.cookies()).filter((c) => c.name === 'hpa_admin');
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in');
    const status = await page.evaluate(async () => (await fetch('/api/session')).status);
    expect(status).toBe(401);
    const replay = await fetch(`${app.url}/api/overview`, {
      headers: { cookie: `${copied.name}=${copied.value}` },
    });
    expect(replay.status).toBe(401);
  }, 180_000);

  it('shows stale segments first with how long ago and the missing pages, and the audit log', async () => {
    app = await startLiveApp({ ADMIN_TOKEN });
    const hour = 3_600_000;
    const apply = (
      segmentId: number,
      taskId: string,
      page: number,
      pages: number,
      hoursAgo: number,
    ) =>
      app.store.applyDelivery({
        meta: { receivedAt: Date.now() - hoursAgo * hour, path: '/webhook', bodySha256: null },
        actionType: 'segment.users.sync',
        signatureKey: `e2e-${segmentId}-${taskId}-${page}`,
        work: {
          kind: 'sync',
          tenant: '',
          segmentId,
          segmentName: `Segment ${segmentId}`,
          customerConfig: null,
          taskId,
          pageNumber: page,
          totalPages: pages,
          add: [`user-${segmentId}-${page}`],
          remove: [],
        },
      });
    // In the API's order (by segment id) the fresh one would come first.
    await apply(1, 'fresh', 1, 1, 1);
    await apply(2, 'old', 1, 1, 30);
    for (const page of [1, 3, 5]) await apply(3, 'partial', page, 5, 2);

    browser = await openBrowser();
    const { page } = browser;
    await page.goto(`${app.url}/`);
    await page.fill('#admin-token', 'not-the-token');
    await page.click('#sign-in button[type=submit]');
    await expectText(page, '.error-text', 'That is not the admin token.');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('[data-table="segments"]');

    const rows = page.locator('[data-table="segments"] tbody tr');
    expect(
      await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.segment)),
    ).toEqual(['3', '2', '1']);
    expect(
      await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.stale)),
    ).toEqual(['true', 'true', 'false']);
    const never = rows.nth(0);
    expect(await never.textContent()).toContain('never completed');
    expect(await never.locator('.missing-pages').getAttribute('data-missing-pages')).toBe('2,4');
    expect(await never.locator('.missing-pages').textContent()).toBe(
      'Task partial: 3 of 5 pages; missing 2, 4',
    );
    expect(await rows.nth(1).textContent()).toContain('30 h ago');
    expect(await rows.nth(1).locator('.badge.bad').textContent()).toBe('Stale');
    expect(await rows.nth(2).locator('.badge').count()).toBe(0);
    expect(await page.getAttribute('[data-stale-count]', 'data-stale-count')).toBe('2');
    await screenshot(page, 'stale-segments');

    // The audit log: the refused sign-in and the sign-in, from this browser's address.
    await page.click('#nav a[data-nav="audit"]');
    await page.waitForSelector('[data-table="audit"]');
    const entries = page.locator('[data-table="audit"] tbody tr');
    expect(
      await entries.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.event)),
    ).toEqual(['sign_in', 'sign_in_failed']);
    expect(await entries.nth(0).textContent()).toContain('127.0.0.1');
    expect(await entries.nth(1).textContent()).toContain('invalid_credentials');
    expect(await page.textContent('[data-table="audit"]')).not.toContain('not-the-token');
    await screenshot(page, 'audit-log');

    // Signing out is recorded too, and read back after signing in again.
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('main[data-route="overview"] .tile');
    await page.click('#nav a[data-nav="audit"]');
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-table="audit"] tbody tr[data-event="sign_out"]').length ===
        1,
    );
    expect(browser.errors).toEqual([]);
  }, 90_000);

  it('renders Swagger UI at /docs under the security headers’ CSP, with no violation', async () => {
    app = await startLiveApp({ ADMIN_TOKEN });
    browser = await openBrowser();
    const violations: string[] = [];
    await browser.page.exposeFunction('__violation', (text: string) => violations.push(text));
    await browser.page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        void (window as unknown as { __violation: (t: string) => void }).__violation(
          `${event.violatedDirective} ${event.blockedURI}`,
        );
      });
    });
    const response = await browser.page.goto(`${app.url}/docs`);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await browser.page.waitForSelector('.opblock');
    expect(await browser.page.locator('.opblock').count()).toBeGreaterThan(5);
    await screenshot(browser.page, 'docs');
    expect(violations).toEqual([]);
    expect(browser.errors).toEqual([]);
  }, 60_000);

  it('signs in once with the one-click link, and takes the code out of the address bar', async () => {
    app = await startLiveApp({ ADMIN_TOKEN });
    const code = app.adminAccess.issueLoginCode();
    browser = await openBrowser();
    await browser.page.goto(`${app.url}/login#code=${code}`);
    await browser.page.waitForSelector('main[data-route="overview"] .tile');
    expect(browser.page.url()).toBe(`${app.url}/`);
    await screenshot(browser.page, 'one-click-sign-in');
    await browser.close();

    // A second browser (or someone who found the link in history) cannot use it again.
    browser = await openBrowser();
    await browser.page.goto(`${app.url}/login#code=${code}`);
    await browser.page.waitForSelector('#sign-in');
    expect(await browser.page.textContent('.error-text')).toContain('already used');
    expect(browser.page.url()).toBe(`${app.url}/`);
    expect(browser.errors).toEqual([]);
  }, 60_000);
});

async function expectText(page: Page, selector: string, text: string) {
  await page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent === t, [
    selector,
    text,
  ] as const);
}
