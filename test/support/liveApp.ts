// Starts the app on a real port with its sandbox Heap emulator, as `npm start` does in development.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AdminAccess } from '../../src/admin/access';
import { AdminAudit } from '../../src/admin/audit';
import { createApp } from '../../src/app';
import { loadConfig, type Config, type Environment } from '../../src/config/index';
import { createLogger } from '../../src/server/logger';
import { createSandboxEmulator } from '../../src/server/sandbox';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/types';
import { tempDir, TEST_SECRET } from './testApp';

export type LiveApp = {
  url: string;
  config: Config;
  /** The secret deliveries are signed with: the generated one while the sandbox is on. */
  webhookSecret: string;
  store: Store;
  /** The app's admin sign-in state (issues one-click codes, as the server's banner does). */
  adminAccess: AdminAccess;
  logs: string[];
  close: () => Promise<void>;
};

/**
 * The app on a real port; DATABASE_URL in `env` puts it on PostgreSQL instead of SQLite. Like
 * `npm start` with nothing set, the sandbox is on and the webhook secret is generated; pass
 * WEBHOOK_SECRET (or CLIENT_ID, or NODE_ENV=production) for an app without it.
 */
export async function startLiveApp(env: Environment = {}): Promise<LiveApp> {
  const dataDir = tempDir('hpa-live-');
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const loaded = loadConfig(
    {
      ...(env.NODE_ENV === 'production' ? { WEBHOOK_SECRET: TEST_SECRET } : {}),
      DATA_DIR: dataDir,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'debug',
      ...env,
    },
    dataDir,
    { createMissingSecrets: true },
  );
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const config = loaded.config;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger('debug', sink);
  const store = await openStore(config, logger);
  const sandbox = createSandboxEmulator(config);
  const adminAudit = new AdminAudit(store, { logger });
  const adminAccess = new AdminAccess(config.admin, config.sessionSecret, {
    sessions: store,
    secureCookies: config.secureCookies,
    audit: adminAudit,
  });
  server.on('request', createApp({ config, store, logger, sandbox, adminAccess, adminAudit }));
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    webhookSecret: config.webhook.secrets[0],
    store,
    adminAccess,
    logs,
    close: async () => {
      await sandbox?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await adminAudit.close();
      await store.close();
    },
  };
}

/** A minimal browser: follows nothing by itself, keeps cookies per name. */
export class Browser {
  readonly cookies = new Map<string, string>();
  lastSetCookie: string[] = [];

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.lastSetCookie = res.headers.getSetCookie();
    for (const line of this.lastSetCookie) {
      const [pair] = line.split(';');
      const [name, ...value] = pair.split('=');
      if (/Expires=Thu, 01 Jan 1970/i.test(line) || value.join('=') === '')
        this.cookies.delete(name);
      else this.cookies.set(name, value.join('='));
    }
    return res;
  }
}

/** Reads the emulator's consent form: where it posts and its hidden/default fields. */
export function parseConsentForm(page: string, base: string) {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  if (!action) throw new Error(`no consent form in:\n${page}`);
  const fields: Record<string, string> = {};
  for (const match of page.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    fields[match[1]] = match[2].replace(/&amp;/g, '&');
  }
  return { action: new URL(action.replace(/&amp;/g, '&'), base).href, fields };
}

/**
 * Walks the whole Connect Heap flow like a person: button → Heap consent → decision → callback.
 * Returns every hop so tests can inspect each.
 */
export async function connectThroughEmulator(
  app: LiveApp,
  options: {
    decision?: 'approve' | 'deny';
    authorizedBy?: string;
    envId?: string;
    browser?: Browser;
  } = {},
) {
  const browser = options.browser ?? new Browser();
  const authorize = await browser.request(`${app.url}/api/authorize`, { method: 'POST' });
  const authorizeCookie = browser.lastSetCookie.join('\n');
  const consentUrl = authorize.headers.get('location') ?? '';
  const consent = await browser.request(consentUrl);
  const form = parseConsentForm(await consent.text(), consentUrl);
  const fields: Record<string, string> = {
    ...form.fields,
    decision: options.decision ?? 'approve',
  };
  if (options.authorizedBy !== undefined) fields.authorized_by = options.authorizedBy;
  if (options.envId !== undefined) fields.env_id = options.envId;
  const decided = await browser.request(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  const callbackUrl = decided.headers.get('location') ?? '';
  const callback = await browser.request(callbackUrl);
  return {
    browser,
    authorize,
    authorizeCookie,
    consentUrl,
    callbackUrl,
    callback,
    page: await callback.text(),
  };
}
