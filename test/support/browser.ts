// Headless Chromium for the browser tests (playwright-core driving Debian's /usr/bin/chromium), failing under CI when it is missing.
/// <reference lib="dom" />
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  chromium,
  type Browser as PlaywrightBrowser,
  type BrowserContext,
  type Page,
} from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** DESIGN.md section 7; Playwright adds --headless itself and passes the profile directory. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const browserAvailable = existsSync(CHROMIUM);
export const describeBrowser = browserAvailable ? describe : describe.skip;

/** Under CI a missing browser is a failure, never a silent skip; on a laptop without it, a skip. */
export function requireBrowserUnderCi(): void {
  (browserAvailable || process.env.CI === 'true' ? it : it.skip)(
    `finds Chromium at ${CHROMIUM} (apt-get install chromium)`,
    () => {
      expect(existsSync(CHROMIUM)).toBe(true);
    },
  );
}

/** Chromium itself, for tests that open several contexts (one per origin, say). */
export function launchChromium(): Promise<PlaywrightBrowser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export type Browser = {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors other than refused resource loads. */
  errors: string[];
  close: () => Promise<void>;
};

export async function openBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'hpa-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // Refused requests (401 before sign-in, the emulator's missing favicon) are expected;
    // any other error logged by a page is a defect.
    if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
      errors.push(message.text());
    }
  });
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
