// Connect Heap over real HTTP: the app and its sandbox Heap emulator, no mocked axios; on SQLite and PostgreSQL.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Environment } from '../../src/config/index';
import { signHeapHash } from '../../src/webhook/signature';
import { decryptToken } from '../../src/oauth/tokenCipher';
import { Browser, connectThroughEmulator, startLiveApp, type LiveApp } from '../support/liveApp';
import { describeEachStore, type StoreBackend } from '../support/backends';
import { allMembers, syncBody } from '../support/testApp';

const HUB_API = '/heap-emulator/api/hub';

let app: LiveApp;
afterEach(async () => {
  await app?.close();
});

async function hub(pathname: string, body?: unknown, method = 'POST') {
  const res = await fetch(`${app.url}${HUB_API}${pathname}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function webhook(body: unknown) {
  const raw = JSON.stringify(body);
  const res = await fetch(`${app.url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'heap-hash': signHeapHash(app.webhookSecret, raw),
    },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Starts the live app on a new, empty store of the backend. */
const starter =
  (backend: StoreBackend) =>
  async (env: Environment = {}) =>
    startLiveApp({ ...(await backend.env()), ...env });

/** Runs SQL on the app's database directly, whichever backend (to age data, say). */
async function execOnStore(target: LiveApp, sql: string, values: unknown[]): Promise<void> {
  if (target.config.postgres) {
    const client = new pg.Client({ connectionString: target.config.postgres.url });
    await client.connect();
    await client.query(sql, values).finally(() => client.end());
    return;
  }
  const db = new Database(target.config.sqlite.file);
  try {
    db.prepare(sql.replace(/\$\d+/g, '?')).run(...values);
  } finally {
    db.close();
  }
}

/** Whether a string is anywhere in the stored data: the SQLite files, or every PostgreSQL table. */
async function storedDataContains(target: LiveApp, needle: string): Promise<boolean> {
  if (target.config.postgres) {
    const client = new pg.Client({ connectionString: target.config.postgres.url });
    await client.connect();
    try {
      const tables = await client.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(tables.rows.length).toBeGreaterThan(5);
      for (const { name } of tables.rows) {
        const dump = await client.query<{ text: string | null }>(
          `SELECT json_agg(t)::text AS text FROM "${name}" t`,
        );
        if (dump.rows[0].text?.includes(needle)) return true;
      }
      return false;
    } finally {
      await client.end();
    }
  }
  await target.store.close();
  const dir = path.dirname(target.config.sqlite.file);
  const dbFiles = readdirSync(dir).filter((f) => f.startsWith('heap-partner.sqlite'));
  expect(dbFiles.length).toBeGreaterThanOrEqual(1);
  return dbFiles.some((file) => readFileSync(path.join(dir, file)).includes(Buffer.from(needle)));
}

describeEachStore('Connect Heap through the emulator', (backend) => {
  const startLiveApp = starter(backend);

  it('redirects to Heap with client_id, redirect_uri, code, scope and a 256-bit state cookie', async () => {
    app = await startLiveApp();
    const browser = new Browser();
    for (const method of ['GET', 'POST']) {
      const res = await browser.request(`${app.url}/api/authorize`, { method });
      expect(res.status).toBe(303);
      const location = new URL(res.headers.get('location') ?? '');
      expect(location.origin + location.pathname).toBe(
        `${app.url}/heap-emulator/api/partner/oauth/authorize`,
      );
      expect(Object.fromEntries(location.searchParams)).toEqual({
        client_id: 'local-sandbox',
        redirect_uri: `${app.url}/api/oauth_redirect`,
        response_type: 'code',
        scope: 'segment',
        state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      });
      const [cookie] = browser.lastSetCookie;
      expect(cookie).toMatch(/^hpa_oauth_state=s%3A/);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);
      expect(cookie).toMatch(/; Max-Age=600/);
      expect(cookie).toMatch(/; Path=\/api/);
      expect(cookie).not.toMatch(/; Secure/);
    }
  });

  it('marks the state cookie Secure when PUBLIC_URL is https, not from proxy headers', async () => {
    app = await startLiveApp({ TRUST_PROXY: '1' });
    const spoofed = new Browser();
    await spoofed.request(`${app.url}/api/authorize`, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(spoofed.lastSetCookie[0]).not.toMatch(/; Secure/);
    await app.close();
    app = await startLiveApp({ PUBLIC_URL: 'https://partner.example' });
    const browser = new Browser();
    await browser.request(`${app.url}/api/authorize`);
    expect(browser.lastSetCookie[0]).toMatch(/; Secure/);
  });

  it('stores the connection with its token encrypted, and shows an escaped success page', async () => {
    app = await startLiveApp();
    const flow = await connectThroughEmulator(app, {
      authorizedBy: '<img src=x onerror=alert(1)>',
    });
    expect(flow.callback.status).toBe(200);
    expect(flow.callback.headers.get('content-type')).toMatch(/text\/html/);
    expect(flow.page).toContain('Heap is connected');
    expect(flow.page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(flow.page).not.toContain('<img src=x');
    expect(flow.page).toContain('/heap-emulator/developers-hub');
    // The state cookie is used up and cleared.
    expect(flow.browser.cookies.has('hpa_oauth_state')).toBe(false);

    const [connection] = await app.store.listConnections();
    expect(connection).toMatchObject({
      idToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      envId: expect.stringMatching(/^\d+$/),
      partnerAppId: expect.any(String),
      authorizedBy: '<img src=x onerror=alert(1)>',
      authorizedScope: 'segment',
      authorizedAtUtc: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      active: true,
    });
    const sealed = await app.store.getSealedAccessToken(connection.idToken);
    const token = decryptToken(app.config.tokenEncryptionKey!, sealed!, connection.idToken);
    expect(token).toBeTruthy();
    expect(token!.length).toBeGreaterThanOrEqual(20);

    // The plaintext token is nowhere: not in the stored data, not in the logs, not on the page.
    expect(await storedDataContains(app, connection.idToken)).toBe(true);
    expect(await storedDataContains(app, token!)).toBe(false);
    expect(app.logs.join('\n')).not.toContain(token);
    expect(app.logs.join('\n')).toContain('Heap connection stored');
    expect(flow.page).not.toContain(token);
  });

  it('updates the connection when the same environment authorizes again', async () => {
    app = await startLiveApp();
    const first = await connectThroughEmulator(app, { authorizedBy: 'ada', envId: '424242' });
    expect(first.page).toContain('Heap is connected');
    const [before] = await app.store.listConnections();
    const again = await connectThroughEmulator(app, { authorizedBy: 'grace', envId: '424242' });
    expect(again.callback.status).toBe(200);
    expect(again.page).toContain('Heap connection renewed');
    const connections = await app.store.listConnections();
    expect(connections).toHaveLength(1);
    expect(connections[0]).toMatchObject({ idToken: before.idToken, authorizedBy: 'grace' });
  });

  it('shows a friendly 403 page when the customer denies, and stores nothing', async () => {
    app = await startLiveApp();
    const flow = await connectThroughEmulator(app, { decision: 'deny' });
    expect(new URL(flow.callbackUrl).searchParams.get('error')).toBe('access_denied');
    expect(flow.callback.status).toBe(403);
    expect(flow.page).toContain('Access was denied');
    expect(await app.store.listConnections()).toEqual([]);
  });

  it('escapes whatever Heap puts in error and error_description', async () => {
    app = await startLiveApp();
    const res = await fetch(
      `${app.url}/api/oauth-redirect?error=${encodeURIComponent('<script>x</script>')}&error_description=${encodeURIComponent('"><b>hi')}`,
    );
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(page).toContain('&quot;&gt;&lt;b&gt;hi');
    expect(page).not.toMatch(/<script>x|<b>hi/);
  });
});

describeEachStore('state (CSRF) checks happen before any request to Heap', (backend) => {
  const startLiveApp = starter(backend);

  /** Approves in the emulator but stops before following the redirect back to the app. */
  async function approvedButNotReturned() {
    const browser = new Browser();
    const authorize = await browser.request(`${app.url}/api/authorize`, { method: 'POST' });
    const consentUrl = authorize.headers.get('location') ?? '';
    const consent = await (await browser.request(consentUrl)).text();
    const { parseConsentForm } = await import('../support/liveApp');
    const form = parseConsentForm(consent, consentUrl);
    const decided = await browser.request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, decision: 'approve' }).toString(),
    });
    const callback = new URL(decided.headers.get('location') ?? '');
    return { browser, callback };
  }

  it('refuses a callback without the state cookie (another browser), then the real one works', async () => {
    app = await startLiveApp();
    const { browser, callback } = await approvedButNotReturned();
    const stranger = await new Browser().request(callback.href);
    expect(stranger.status).toBe(400);
    expect(await stranger.text()).toContain('state is missing');
    // The code was not spent on Heap: the right browser can still finish with it.
    const real = await browser.request(callback.href);
    expect(real.status).toBe(200);
    expect(await app.store.listConnections()).toHaveLength(1);
  });

  it('refuses a mismatched state', async () => {
    app = await startLiveApp();
    const { browser, callback } = await approvedButNotReturned();
    const forged = new URL(callback.href);
    forged.searchParams.set('state', 'A'.repeat(43));
    const res = await browser.request(forged.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('does not match');
    expect(await app.store.listConnections()).toEqual([]);
  });

  it('refuses a missing state in the query', async () => {
    app = await startLiveApp();
    const { browser, callback } = await approvedButNotReturned();
    callback.searchParams.delete('state');
    const res = await browser.request(callback.href);
    expect(res.status).toBe(400);
  });

  it('refuses a state that was already used', async () => {
    app = await startLiveApp();
    const { browser, callback } = await approvedButNotReturned();
    const cookie = browser.cookies.get('hpa_oauth_state')!;
    expect((await browser.request(callback.href)).status).toBe(200);
    browser.cookies.set('hpa_oauth_state', cookie);
    const replay = await browser.request(callback.href);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('expired or was already used');
  });

  it('refuses an expired state', async () => {
    app = await startLiveApp();
    const { browser, callback } = await approvedButNotReturned();
    await execOnStore(app, 'UPDATE oauth_states SET expires_at = $1', [Date.now() - 1]);
    const res = await browser.request(callback.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('expired');
    expect(await app.store.listConnections()).toEqual([]);
  });

  it('refuses a tampered (unsigned) state cookie', async () => {
    app = await startLiveApp();
    const { browser, callback } = await approvedButNotReturned();
    browser.cookies.set('hpa_oauth_state', encodeURIComponent(callback.searchParams.get('state')!));
    const res = await browser.request(callback.href);
    expect(res.status).toBe(400);
  });
});

describe('Heap failures become a 502 page and store nothing', () => {
  it.each([
    ['token', '500', 'HTTP 500'],
    ['token', 'non_json', 'not a JSON object'],
    ['token', 'missing_fields', 'lacks'],
    ['token', 'timeout', 'did not answer within'],
    ['metadata', '500', 'HTTP 500'],
    ['metadata', 'non_json', 'not a JSON object'],
    ['metadata', 'missing_fields', 'lacks'],
    ['metadata', 'timeout', 'did not answer within'],
  ])('%s endpoint: %s', async (endpoint, fault, explanation) => {
    app = await startLiveApp({ HEAP_TIMEOUT_MS: '300' });
    expect((await hub('/faults', { [endpoint]: fault, hold_ms: 2000 })).status).toBe(200);
    const flow = await connectThroughEmulator(app);
    expect(flow.callback.status).toBe(502);
    expect(flow.page).toContain('Heap did not answer as expected');
    expect(flow.page).toContain(explanation);
    expect(flow.page).toContain(
      endpoint === 'token'
        ? 'exchanging the authorization code'
        : 'reading the environment metadata',
    );
    expect(await app.store.listConnections()).toEqual([]);
  });
});

describeEachStore('webhooks meet connections', (backend) => {
  const startLiveApp = starter(backend);

  it('accepts an unknown id_token as unlinked by default, linked once connected', async () => {
    app = await startLiveApp();
    expect((await webhook(syncBody({ idToken: 'stranger', add: ['a'] }))).status).toBe(200);
    const flow = await connectThroughEmulator(app);
    expect(flow.callback.status).toBe(200);
    const [connection] = await app.store.listConnections();
    expect((await webhook(syncBody({ idToken: connection.idToken, add: ['b'] }))).status).toBe(200);
    const [linked, unlinked] = await app.store.listDeliveries({ limit: 2 });
    expect(linked).toMatchObject({ tenant: connection.idToken, linked: true });
    expect(unlinked).toMatchObject({ tenant: 'stranger', linked: false });
  });

  it('refuses unknown or disconnected id_tokens with UNKNOWN_ID_TOKEN=reject', async () => {
    app = await startLiveApp({ UNKNOWN_ID_TOKEN: 'reject' });
    const refused = await webhook(syncBody({ idToken: 'stranger', add: ['a'] }));
    expect(refused).toEqual({
      status: 403,
      body: { error: 'unknown_id_token', message: expect.any(String) },
    });
    expect(await app.store.getSegment('stranger', 42)).toBeUndefined();
    // The partner's own environment needs no connection.
    expect((await webhook(syncBody({ add: ['own'] }))).status).toBe(200);

    await connectThroughEmulator(app);
    const [connection] = await app.store.listConnections();
    const accepted = await webhook(syncBody({ idToken: connection.idToken, add: ['a'] }));
    expect(accepted.status).toBe(200);

    expect(await app.store.disconnect(connection.idToken, Date.now())).toBe(true);
    expect(await app.store.getSealedAccessToken(connection.idToken)).toBeUndefined();
    expect(await app.store.getConnection(connection.idToken)).toMatchObject({
      active: false,
      disconnectedAt: expect.any(Number),
    });
    const afterDisconnect = await webhook(syncBody({ idToken: connection.idToken, add: ['c'] }));
    expect(afterDisconnect.status).toBe(403);
  });
});

describe('the zero-config sandbox', () => {
  it('Send sample segment in the emulator applies a sync to the app', async () => {
    app = await startLiveApp();
    await connectThroughEmulator(app);
    const [connection] = await app.store.listConnections();
    const sent = await hub('/sample-segment', { id_token: connection.idToken });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ kind: 'sample', state: 'succeeded' });
    const segmentId = (sent.body.segment as { id: number }).id;
    const members = await allMembers(app.store, connection.idToken, segmentId);
    expect(members.length).toBeGreaterThan(0);
    const [delivery] = await app.store.listDeliveries({ limit: 1 });
    expect(delivery).toMatchObject({ status: 'applied', linked: true });
  });

  it('links the landing page to the emulator and its Connect Heap form', async () => {
    app = await startLiveApp();
    const page = await (await fetch(`${app.url}/`)).text();
    expect(page).toContain('action="/api/authorize"');
    expect(page).toContain('Connect Heap');
    expect(page).toContain(`${app.url}/heap-emulator/developers-hub`);
  });

  it('is never mounted in production, where missing OAuth settings disable Connect Heap', async () => {
    app = await startLiveApp({ NODE_ENV: 'production', ADMIN_TOKEN: 'production-admin-token' });
    expect(app.config.warnings.join()).toMatch(/OAuth .* disabled until CLIENT_ID, CLIENT_SECRET/);
    expect((await fetch(`${app.url}/heap-emulator/developers-hub`)).status).toBe(404);
    const authorize = await fetch(`${app.url}/api/authorize`, { redirect: 'manual' });
    expect(authorize.status).toBe(503);
    expect(await authorize.text()).toContain('Connect Heap is not configured');
    expect((await webhook(syncBody({ add: ['still-works'] }))).status).toBe(200);
  });

  it('is off in development once WEBHOOK_SECRET is set: Connect Heap names what is missing', async () => {
    app = await startLiveApp({ WEBHOOK_SECRET: 'a-real-heap-secret' });
    expect(app.config.sandbox).toEqual({ enabled: false, reason: 'WEBHOOK_SECRET is set' });
    expect((await fetch(`${app.url}/heap-emulator/developers-hub`)).status).toBe(404);
    const sample = await fetch(`${app.url}/heap-emulator/api/hub/sample-segment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(sample.status).toBe(404);
    expect(await app.store.listDeliveries({ limit: 10 })).toEqual([]);
    const authorize = await fetch(`${app.url}/api/authorize`, { redirect: 'manual' });
    expect(authorize.status).toBe(503);
    expect(await authorize.text()).toContain('Connect Heap is not configured');
    // The page points at the start-up log, which names the settings (the public page does not).
    expect(app.config.warnings.join()).toMatch(/OAuth .* disabled until CLIENT_ID, CLIENT_SECRET/);
    const landing = await (await fetch(`${app.url}/`)).text();
    expect(landing).not.toContain('/heap-emulator');
    expect((await webhook(syncBody({ add: ['still-works'] }))).status).toBe(200);
  });

  it('talks to a real Heap origin when configured (HEAP_SERVER) and never mounts the emulator', async () => {
    app = await startLiveApp({
      CLIENT_ID: 'cid',
      CLIENT_SECRET: 'csecret',
      REDIRECT_URI: 'https://partner.example/api/oauth_redirect',
      HEAP_SERVER: 'heap.example',
    });
    const res = await fetch(`${app.url}/api/authorize`, { redirect: 'manual' });
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.origin).toBe('https://heap.example');
    expect(location.searchParams.get('redirect_uri')).toBe(
      'https://partner.example/api/oauth_redirect',
    );
    expect((await fetch(`${app.url}/heap-emulator/developers-hub`)).status).toBe(404);
  });
});
