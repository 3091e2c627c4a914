// Connect Heap → Approve → back on the app in Chromium, against `npm start` with nothing set, from every address the browser may use.
/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { readSecretFile } from '../../src/config/index';
import { describeBrowser, launchChromium, requireBrowserUnderCi } from '../support/browser';
import { repoRoot, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

const SCREENSHOTS = path.join(repoRoot, 'test-output', 'sandbox-any-origin');
const CLI = path.join(repoRoot, 'bin', 'heap-partner-api.js');

requireBrowserUnderCi();

const interfaces = Object.values(os.networkInterfaces()).flat();
const hasIpv6Loopback = interfaces.some((info) => info?.internal && info.address === '::1');
/** An address other machines could use to reach this one (the LAN / VM case), if it has one. */
const lanAddress = interfaces.find(
  (info) => info && !info.internal && info.family === 'IPv4',
)?.address;

type Started = { server: ServerProcess; adminToken: string };

/** `npm start` (the CLI's serve) with nothing set but a data directory and `env`. */
async function start(env: Record<string, string> = {}): Promise<Started> {
  const dataDir = tempDir('hpa-anyorigin-');
  const server = await startServer({ DATA_DIR: dataDir, ...env }, repoRoot, [CLI, 'serve']);
  return { server, adminToken: readSecretFile(path.join(dataDir, 'admin-token')) ?? '' };
}

/**
 * What a person does at `origin`: open the app, Connect Heap, Approve on the emulator's consent
 * page, read the result, go back to the app, sign in and find the connection there. Every page
 * along the way must stay on `origin`.
 */
async function connectAt(browser: Browser, origin: string, adminToken: string, envId: string) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
      errors.push(message.text());
    }
  });
  const visited: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) visited.push(frame.url());
  });
  try {
    await page.goto(`${origin}/`);
    await page.click('header button:has-text("Connect Heap")');
    await page.waitForURL(/\/heap-emulator\/api\/partner\/oauth\/authorize/);
    await page.fill('input[name="env_id"]', envId);
    await page.click('button:has-text("Approve")');
    await page.waitForURL(/\/api\/oauth_redirect/);
    const heading = await page.textContent('h1');
    const callbackUrl = page.url();
    // Fail here, with the page's words, rather than on a missing link further on.
    expect([callbackUrl, heading]).toEqual([expect.any(String), 'Heap is connected']);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const name = new URL(origin).hostname.replace(/[^a-z0-9.]/gi, '_');
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-connected.png`) });
    await page.click('a:has-text("Back to the app")');
    await page.fill('#admin-token', adminToken);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('[data-table="connections"]');
    const connections = await page.textContent('[data-table="connections"]');
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-overview.png`) });
    return { heading, callbackUrl, connections, visited, errors, finalUrl: page.url() };
  } finally {
    await context.close();
  }
}

describeBrowser('the sandbox from any origin, in Chromium', () => {
  let browser: Browser;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    for (const server of servers) server.child.kill('SIGKILL');
  });

  describe('npm start with nothing set (loopback only)', () => {
    let started: Started;
    beforeAll(async () => {
      started = await start();
      servers.push(started.server);
    });

    const origins: [string, (port: number) => string, boolean][] = [
      ['localhost', (port) => `http://localhost:${port}`, true],
      ['127.0.0.1', (port) => `http://127.0.0.1:${port}`, true],
      ['[::1]', (port) => `http://[::1]:${port}`, hasIpv6Loopback],
    ];
    origins.forEach(([label, originOf, available], index) => {
      (available ? it : it.skip)(
        `connects and comes back to the app at http://${label}:PORT`,
        async () => {
          const { server, adminToken } = started;
          // The configured public URL stays http://localhost:PORT whatever the browser uses.
          expect(server.stderr()).toContain(`listening on http://localhost:${server.port}`);
          const origin = originOf(server.port);
          const envId = String(700 + index);
          const result = await connectAt(browser, origin, adminToken, envId);
          expect(result.heading).toContain('Heap is connected');
          expect(new URL(result.callbackUrl).origin).toBe(origin);
          expect(result.visited.map((url) => new URL(url).origin)).toEqual(
            result.visited.map(() => origin),
          );
          expect(result.finalUrl.startsWith(`${origin}/`)).toBe(true);
          expect(result.connections).toContain(envId);
          expect(result.errors).toEqual([]);
        },
      );
    });
  });

  (lanAddress ? describe : describe.skip)(`HOST=0.0.0.0, reached at its network address`, () => {
    let started: Started;
    beforeAll(async () => {
      started = await start({ HOST: '0.0.0.0' });
      servers.push(started.server);
    });

    it(`connects and comes back to the app at http://${lanAddress ?? 'LAN'}:PORT`, async () => {
      const { server, adminToken } = started;
      const origin = `http://${lanAddress}:${server.port}`;
      const result = await connectAt(browser, origin, adminToken, '800');
      expect(result.heading).toContain('Heap is connected');
      expect(new URL(result.callbackUrl).origin).toBe(origin);
      expect(result.visited.every((url) => url.startsWith(`${origin}/`))).toBe(true);
      expect(result.connections).toContain('800');
      expect(result.errors).toEqual([]);
    });
  });
});
