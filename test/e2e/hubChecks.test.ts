// "Check a receiver" in the Developers Hub, in headless Chromium: tick a group, run, read the scorecard.
/// <reference lib="dom" />
import {
  describeBrowser,
  openBrowser,
  requireBrowserUnderCi,
  type Browser,
} from '../support/browser';
import { startLiveApp, type LiveApp } from '../support/liveApp';

requireBrowserUnderCi();

describeBrowser('Developers Hub check panel in Chromium', () => {
  let app: LiveApp;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await app?.close();
  });

  it('runs the signing checks against the app and shows an all-pass scorecard', async () => {
    app = await startLiveApp();
    browser = await openBrowser();
    const { page } = browser;
    await page.goto(`${app.url}/heap-emulator/developers-hub`);
    const form = page.locator('form[data-action="check"]');
    await form.locator('input[name="group"][value="signing"]').check();
    await form.locator('button:not([data-action])').click();

    // Progress appears, then the scorecard replaces it (the live section refreshes itself).
    await page.waitForSelector('#check-run [data-score]', { timeout: 60_000 });
    expect(await page.getAttribute('#check-run [data-score]', 'data-score')).toBe('100');
    const statuses = await page
      .locator('#check-run tr[data-check]')
      .evaluateAll((rows) =>
        rows.map((row) => [row.getAttribute('data-check'), row.getAttribute('data-status')]),
      );
    expect(statuses.length).toBeGreaterThanOrEqual(8);
    for (const [id, status] of statuses) {
      expect(id).toMatch(/^signing\./);
      expect(status).toBe('pass');
    }
    expect(await page.textContent('#check-run')).toContain('passed');
    // Nothing the checker sent or received is rendered as markup, and the page logged no error.
    expect(
      await page.evaluate(() => (window as unknown as { __xss?: number }).__xss),
    ).toBeUndefined();
    expect(browser.errors).toEqual([]);
  });
});
