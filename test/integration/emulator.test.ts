// Integration tests: the Heap emulator over real HTTP, delivering to the real partner app and its SQLite store.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import express from 'express';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config/index';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator';
import { createLogger } from '../../src/server/logger';
import { SqliteStore } from '../../src/store/sqlite/store';
import { dummyUsers } from '../../src/webhook/outgoing';

const PREFIX = '/heap-emulator';
const SECRET = 's';
const CLIENT = {
  clientId: 'partner-app',
  clientSecret: 'partner-secret',
  redirectUri: 'http://127.0.0.1:9/oauth/callback',
  appName: 'Acme <Sync> & "Co"',
};
const AUTHORIZE = `${PREFIX}/api/partner/oauth/authorize`;
const TOKEN = `${PREFIX}/api/partner/oauth/token`;
const METADATA = `${PREFIX}/api/partner/v1/metadata`;
const HUB = `${PREFIX}/api/hub`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FAST_RETRY = { maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 2000 };

type Running = { url: string; close: () => Promise<void> };
type RunView = {
  id: string;
  kind: string;
  state: string;
  sync_task_id: string | null;
  webhook_url: string;
  total_pages: number;
  pages_delivered: number;
  pages_failed: number;
  attempt_count: number;
  changes: { add: number; remove: number };
  member_count: number | null;
  error: string | null;
  pages: {
    page_number: number | null;
    add: number;
    remove: number;
    state: string;
    attempts: {
      attempt: number;
      status: number | null;
      error: string | null;
      latency_ms: number;
    }[];
  }[];
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The emulator mounted under a prefix of another Express app, as a partner would host it. */
async function startEmulator(
  overrides: Partial<EmulatorOptions> = {},
): Promise<Running & { emulator: Emulator }> {
  const emulator = createEmulator({
    clients: [CLIENT],
    webhook: { url: 'http://127.0.0.1:9/webhook', secret: SECRET },
    retry: FAST_RETRY,
    ...overrides,
  });
  const host = express();
  host.use(PREFIX, emulator.router);
  const server = createServer(host);
  const url = await listen(server);
  const running = {
    url,
    emulator,
    close: async () => {
      await emulator.close();
      await closeServer(server);
    },
  };
  cleanups.push(running.close);
  return running;
}

/** The real partner app on a real port, with its own SQLite file. */
async function startPartnerApp() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'emulator-test-'));
  const loaded = loadConfig({ WEBHOOK_SECRET: SECRET, DATA_DIR: dir }, dir);
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const { config } = loaded;
  const store = new SqliteStore({ file: config.sqlite.file, busyTimeoutMs: 50 });
  const server = createServer(createApp({ config, store, logger: createLogger('silent') }));
  const url = await listen(server);
  cleanups.push(async () => {
    await closeServer(server);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { url, store, file: config.sqlite.file };
}

async function allMembers(store: SqliteStore, tenant: string, segmentId: number) {
  const page = await store.listMembers(tenant, segmentId, { limit: 100_000 });
  return [...page.items].sort();
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

async function getRun(url: string, id: string): Promise<RunView> {
  const res = await request(url).get(`${HUB}/syncs/${id}`).expect(200);
  return res.body as RunView;
}

function finishedRun(url: string, id: string): Promise<RunView> {
  return waitFor(
    () => getRun(url, id),
    (run) => run.state !== 'running',
    `run ${id}`,
  );
}

function consentPage(url: string, query: Record<string, string> = {}) {
  return request(url)
    .get(AUTHORIZE)
    .query({
      client_id: CLIENT.clientId,
      redirect_uri: CLIENT.redirectUri,
      response_type: 'code',
      scope: 'segment',
      state: 'st-1',
      ...query,
    });
}

function nonceOf(page: string): string {
  const match = /name="nonce" value="([^"]+)"/.exec(page);
  if (!match) throw new Error('the consent page has no nonce');
  return match[1];
}

function decide(url: string, nonce: string, decision: string, envId = '1234567890') {
  return request(url)
    .post(AUTHORIZE)
    .type('form')
    .send({ nonce, decision, env_id: envId, authorized_by: 'ada@example.com' });
}

async function approvedCode(url: string, envId = '1234567890'): Promise<string> {
  const page = await consentPage(url).expect(200);
  const res = await decide(url, nonceOf(page.text), 'approve', envId).expect(302);
  return new URL(res.headers.location).searchParams.get('code') as string;
}

function exchange(url: string, code: string, overrides: Record<string, string> = {}) {
  return request(url)
    .post(TOKEN)
    .send({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CLIENT.redirectUri,
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      ...overrides,
    });
}

async function connect(url: string, envId = '1234567890') {
  const res = await exchange(url, await approvedCode(url, envId)).expect(200);
  return res.body as { access_token: string; id_token: string };
}

describe('OAuth provider', () => {
  it('renders the consent page with the app name and scope escaped, unframeable', async () => {
    const { url } = await startEmulator();
    const res = await consentPage(url, { state: '"><script>alert(1)</script>' }).expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('Acme &lt;Sync&gt; &amp; &quot;Co&quot;');
    expect(res.text).not.toContain('<Sync>');
    expect(res.text).not.toContain('<script>alert');
    expect(res.text).toMatch(/<span class="badge run">segment<\/span>/);
    expect(res.text).toMatch(/<button[^>]*value="approve"[^>]*>Approve<\/button>/);
    expect(res.text).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/);
    expect(res.text).toContain(`action="${AUTHORIZE}"`);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it.each([
    ['an unknown client_id', { client_id: 'someone-else' }, /No partner app/],
    ['no client_id', { client_id: '' }, /no client_id/],
    ['a redirect_uri with a trailing slash', { redirect_uri: `${CLIENT.redirectUri}/` }, /exactly/],
    ['a redirect_uri with a query', { redirect_uri: `${CLIENT.redirectUri}?x=1` }, /exactly/],
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }, /exactly/],
    ['response_type=token', { response_type: 'token' }, /response_type/],
    ['another scope', { scope: 'admin' }, /scope/],
  ])('answers a 400 page, never a redirect, for %s', async (_name, query, message) => {
    const { url } = await startEmulator();
    const res = await consentPage(url, query).expect(400);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toMatch(message);
  });

  it('refuses a repeated parameter instead of guessing which one counts', async () => {
    const { url } = await startEmulator();
    const query = `client_id=${CLIENT.clientId}&client_id=other&redirect_uri=${encodeURIComponent(CLIENT.redirectUri)}&response_type=code&scope=segment`;
    const res = await request(url).get(`${AUTHORIZE}?${query}`).expect(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('Approve redirects to the registered URI with a code and the state', async () => {
    const { url } = await startEmulator();
    const page = await consentPage(url, { state: 'a b&c' }).expect(200);
    const res = await decide(url, nonceOf(page.text), 'approve').expect(302);
    const location = new URL(res.headers.location);
    expect(`${location.origin}${location.pathname}`).toBe(CLIENT.redirectUri);
    expect(location.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('state')).toBe('a b&c');
  });

  it('Deny redirects with error=access_denied and the state, and no code', async () => {
    const { url } = await startEmulator();
    const page = await consentPage(url).expect(200);
    const res = await decide(url, nonceOf(page.text), 'deny').expect(302);
    const location = new URL(res.headers.location);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.has('code')).toBe(false);
  });

  it('accepts a consent form only with the nonce of a pending request, once', async () => {
    const { url } = await startEmulator();
    const forged = await decide(url, 'made-up-nonce', 'approve').expect(400);
    expect(forged.headers.location).toBeUndefined();
    expect(forged.text).toMatch(/no longer valid/);

    const nonce = nonceOf((await consentPage(url).expect(200)).text);
    await decide(url, nonce, 'approve').expect(302);
    const replay = await decide(url, nonce, 'approve').expect(400);
    expect(replay.headers.location).toBeUndefined();
  });

  it('exchanges a code for an access token and a UUID id_token, from JSON or a form', async () => {
    const { url } = await startEmulator();
    const json = await exchange(url, await approvedCode(url)).expect(200);
    expect(json.body).toEqual({
      access_token: expect.any(String),
      id_token: expect.stringMatching(UUID),
      token_type: 'bearer',
    });
    expect(json.headers['cache-control']).toBe('no-store');

    const form = await request(url)
      .post(TOKEN)
      .type('form')
      .send({
        grant_type: 'authorization_code',
        code: await approvedCode(url, '555'),
        redirect_uri: CLIENT.redirectUri,
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
      })
      .expect(200);
    expect(form.body.id_token).toMatch(UUID);
    expect(form.body.id_token).not.toBe(json.body.id_token);
    expect(form.body.access_token).not.toBe(json.body.access_token);
  });

  it('refuses a wrong client secret or an unknown client with 401 invalid_client', async () => {
    const { url } = await startEmulator();
    const code = await approvedCode(url);
    const wrong = await exchange(url, code, { client_secret: 'nope' }).expect(401);
    expect(wrong.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    expect(JSON.stringify(wrong.body)).not.toContain(CLIENT.clientSecret);
    await exchange(url, code, { client_id: 'other' }).expect(401);
    // A refused client did not burn the code.
    await exchange(url, code).expect(200);
  });

  it('refuses a redirect_uri other than the one the code was issued for', async () => {
    const { url } = await startEmulator();
    const res = await exchange(url, await approvedCode(url), {
      redirect_uri: 'http://127.0.0.1:9/other',
    }).expect(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
  });

  it('accepts a code once', async () => {
    const { url } = await startEmulator();
    const code = await approvedCode(url);
    await exchange(url, code).expect(200);
    const again = await exchange(url, code).expect(400);
    expect(again.body).toEqual({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/already been used/),
    });
  });

  it('refuses a code after its lifetime (60 s by default), not before', async () => {
    let now = 1_700_000_000_000;
    const { url } = await startEmulator({ now: () => now });
    const fresh = await approvedCode(url);
    const stale = await approvedCode(url, '777');
    now += 59_999;
    await exchange(url, fresh).expect(200);
    now += 2;
    const res = await exchange(url, stale).expect(400);
    expect(res.body).toEqual({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/expired/),
    });
  });

  it.each([
    [{ grant_type: 'client_credentials' }, 400, 'unsupported_grant_type'],
    [{ grant_type: '' }, 400, 'invalid_request'],
    [{ code: '' }, 400, 'invalid_request'],
    [{ code: 'never-issued' }, 400, 'invalid_grant'],
  ])('answers OAuth errors as JSON for %j', async (overrides, status, error) => {
    const { url } = await startEmulator();
    const res = await exchange(url, await approvedCode(url), overrides).expect(status);
    expect(res.body).toEqual({ error, error_description: expect.any(String) });
  });

  it('serves metadata only for the id_token the bearer token was issued for', async () => {
    let now = Date.parse('2024-05-06T07:08:09.000Z');
    const { url } = await startEmulator({ now: () => now });
    const first = await connect(url, '111');
    now += 1000;
    const second = await connect(url, '222');

    const ok = await request(url)
      .get(`${METADATA}/${first.id_token}`)
      .set('Authorization', `Bearer ${first.access_token}`)
      .expect(200);
    expect(ok.body).toEqual({
      env_id: '111',
      partner_app_id: 1001,
      authorized_by: 'ada@example.com',
      authorized_scope: 'segment',
      authorized_at_utc: '2024-05-06T07:08:09.000Z',
    });

    const missing = await request(url).get(`${METADATA}/${first.id_token}`).expect(401);
    expect(missing.body.error).toBe('invalid_token');
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    await request(url)
      .get(`${METADATA}/${first.id_token}`)
      .set('Authorization', 'Bearer not-a-token')
      .expect(401);
    const mismatched = await request(url)
      .get(`${METADATA}/${second.id_token}`)
      .set('Authorization', `Bearer ${first.access_token}`)
      .expect(403);
    expect(mismatched.body.error).toBe('forbidden');
  });

  it('keeps an environment’s id_token when it authorizes again', async () => {
    const { url } = await startEmulator();
    const first = await connect(url, '333');
    const again = await connect(url, '333');
    expect(again.id_token).toBe(first.id_token);
    expect(again.access_token).not.toBe(first.access_token);
  });

  describe('faults', () => {
    async function setup() {
      const running = await startEmulator();
      const connection = await connect(running.url);
      const callToken = async () => exchange(running.url, await approvedCode(running.url, '999'));
      const callMetadata = () =>
        request(running.url)
          .get(`${METADATA}/${connection.id_token}`)
          .set('Authorization', `Bearer ${connection.access_token}`);
      return { ...running, callToken, callMetadata };
    }

    it('answers 500 when told to, then normally after a reset', async () => {
      const { url, callToken, callMetadata } = await setup();
      await request(url).post(`${HUB}/faults`).send({ token: '500', metadata: '500' }).expect(200);
      expect((await callToken()).status).toBe(500);
      expect((await callMetadata()).status).toBe(500);
      const reset = await request(url).delete(`${HUB}/faults`).expect(200);
      expect(reset.body).toMatchObject({ token: 'ok', metadata: 'ok' });
      expect((await callToken()).status).toBe(200);
      expect((await callMetadata()).status).toBe(200);
    });

    it('answers 200 with a body that is not JSON', async () => {
      const { url, callToken, callMetadata } = await setup();
      await request(url).post(`${HUB}/faults`).send({ token: 'non_json' }).expect(200);
      const token = await callToken();
      expect(token.status).toBe(200);
      expect(token.headers['content-type']).toMatch(/text\/html/);
      expect(() => JSON.parse(token.text)).toThrow();
      expect((await callMetadata()).body).toHaveProperty('env_id');

      await request(url).post(`${HUB}/faults`).send({ metadata: 'non_json' }).expect(200);
      const metadata = await callMetadata();
      expect(metadata.status).toBe(200);
      expect(() => JSON.parse(metadata.text)).toThrow();
    });

    it('answers 200 JSON without the fields a client needs', async () => {
      const { url, callToken, callMetadata } = await setup();
      await request(url)
        .post(`${HUB}/faults`)
        .send({ token: 'missing_fields', metadata: 'missing_fields' })
        .expect(200);
      const token = await callToken();
      expect(token.status).toBe(200);
      expect(token.body).not.toHaveProperty('access_token');
      expect(token.body).not.toHaveProperty('id_token');
      const metadata = await callMetadata();
      expect(metadata.status).toBe(200);
      expect(metadata.body).not.toHaveProperty('env_id');
    });

    it('holds the answer longer than the client waits, for a configurable time', async () => {
      const { url, callMetadata } = await setup();
      await request(url)
        .post(`${HUB}/faults`)
        .send({ token: 'timeout', metadata: 'timeout', hold_ms: 1500 })
        .expect(200);
      const call = (path: string, init: RequestInit = {}) =>
        fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(200) });
      await expect(
        call(TOKEN, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ grant_type: 'authorization_code' }),
        }),
      ).rejects.toThrow(/abort|timeout/i);
      const started = Date.now();
      const held = await callMetadata();
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(held.status).toBe(504);
    });

    it('refuses an unknown fault mode, naming the field', async () => {
      const { url } = await startEmulator();
      const res = await request(url)
        .post(`${HUB}/faults`)
        .send({ metadata: 'sometimes' })
        .expect(400);
      expect(res.body).toMatchObject({ error: 'invalid_field', field: 'metadata' });
      expect(res.body.message).toMatch(/metadata must be one of/);
    });
  });
});

describe('Developers Hub, delivering to the real partner app', () => {
  async function setup(overrides: Partial<EmulatorOptions> = {}) {
    const app = await startPartnerApp();
    const emulator = await startEmulator({
      webhook: { url: `${app.url}/webhook`, secret: SECRET },
      ...overrides,
    });
    return { app, url: emulator.url, emulator: emulator.emulator };
  }

  it('Send sample segment: one signed page the app stores, answered with the attempt', async () => {
    const { app, url } = await setup();
    const res = await request(url).post(`${HUB}/sample-segment`).send({}).expect(200);
    const run = res.body as RunView;
    expect(run).toMatchObject({ kind: 'sample', state: 'succeeded', total_pages: 1 });
    expect(run.pages[0].attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        status: 200,
        error: null,
        latency_ms: expect.any(Number),
      }),
    ]);
    const segmentId = (res.body as { segment: { id: number } }).segment.id;
    expect(await app.store.getSegment('', segmentId)).toMatchObject({ memberCount: 3 });
    expect(await allMembers(app.store, '', segmentId)).toEqual(dummyUsers(3, 'sample-user'));
  });

  it('Send sample segment for a connection: the app files it under that id_token', async () => {
    const { app, url } = await setup();
    const { id_token } = await connect(url);
    const res = await request(url).post(`${HUB}/sample-segment`).send({ id_token }).expect(200);
    expect(res.body.state).toBe('succeeded');
    expect(await allMembers(app.store, id_token, res.body.segment.id)).toHaveLength(3);
    expect(await app.store.getSegment('', res.body.segment.id)).toBeUndefined();
  });

  it('retries a 5-page sync through 503s to the exact membership, then sends only a delta', async () => {
    const { app, url } = await setup();
    const lock = new Database(app.file);
    cleanups.push(() => {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
    });
    lock.exec('BEGIN EXCLUSIVE');

    const started = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 7, segment_name: 'Trial accounts', users: 10, page_size: 2 })
      .expect(202);
    expect(started.headers.location).toBe(`${HUB}/syncs/${started.body.id}`);
    expect(started.body).toMatchObject({ state: 'running', total_pages: 5 });
    const id = started.body.id as string;
    await waitFor(
      () => getRun(url, id),
      (run) => run.attempt_count >= 3,
      '3 refused attempts',
    );
    lock.exec('COMMIT');

    const run = await finishedRun(url, id);
    expect(run).toMatchObject({
      state: 'succeeded',
      pages_delivered: 5,
      pages_failed: 0,
      changes: { add: 10, remove: 0 },
      member_count: 10,
    });
    expect(run.attempt_count).toBeGreaterThan(5);
    const statuses = run.pages.flatMap((page) => page.attempts.map((a) => a.status));
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(3);
    expect(run.pages[0].attempts[0]).toMatchObject({
      status: 503,
      error: expect.stringMatching(/store_unavailable/),
    });
    expect(run.pages.map((page) => page.attempts.at(-1)?.status)).toEqual([
      200, 200, 200, 200, 200,
    ]);
    expect(await allMembers(app.store, '', 7)).toEqual([...dummyUsers(10)].sort());
    expect(await app.store.getSegment('', 7)).toMatchObject({
      name: 'Trial accounts',
      memberCount: 10,
    });
    expect(await app.store.getSyncTask('', 7, run.sync_task_id as string)).toMatchObject({
      totalPages: 5,
      pagesReceived: 5,
      complete: true,
    });

    const delta = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 7, churn: { add: 3, remove: 4 }, page_size: 2 })
      .expect(202);
    const second = await finishedRun(url, delta.body.id);
    expect(second).toMatchObject({
      state: 'succeeded',
      total_pages: 4,
      changes: { add: 3, remove: 4 },
      member_count: 9,
    });
    expect(second.sync_task_id).not.toBe(run.sync_task_id);
    const expected = [...dummyUsers(13).slice(4)].sort();
    expect(await allMembers(app.store, '', 7)).toEqual(expected);
    const changes = (await app.store.listChanges({ after: 0, limit: 1000 })).filter(
      (change) => change.taskId === second.sync_task_id,
    );
    expect(changes.flatMap((change) => change.added).sort()).toEqual(
      dummyUsers(13).slice(10).sort(),
    );
    expect(changes.flatMap((change) => change.removed).sort()).toEqual(dummyUsers(4).sort());
    const segments = await request(url).get(`${HUB}/segments`).expect(200);
    expect([...segments.body.segments[0].members].sort()).toEqual(expected);
  });

  it('sends one empty page when nothing changed', async () => {
    const { app, url } = await setup();
    const first = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 8, users: 2 })
      .expect(202);
    await finishedRun(url, first.body.id);
    const res = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 8, users: 2 })
      .expect(202);
    const run = await finishedRun(url, res.body.id);
    expect(run).toMatchObject({
      state: 'succeeded',
      total_pages: 1,
      changes: { add: 0, remove: 0 },
    });
    const task = await app.store.getSyncTask('', 8, run.sync_task_id as string);
    expect(task).toMatchObject({ totalPages: 1, complete: true });
    expect(await allMembers(app.store, '', 8)).toEqual(dummyUsers(2));
  });

  it('drains a segment through the hub', async () => {
    const { app, url } = await setup();
    const { id_token } = await connect(url);
    const sync = await request(url)
      .post(`${HUB}/syncs`)
      .send({ id_token, segment_id: 9, users: 4 })
      .expect(202);
    await finishedRun(url, sync.body.id);
    expect(await allMembers(app.store, id_token, 9)).toHaveLength(4);

    const drain = await request(url)
      .post(`${HUB}/drain`)
      .send({ id_token, segment_id: 9 })
      .expect(202);
    const run = await finishedRun(url, drain.body.id);
    expect(run).toMatchObject({ kind: 'drain', state: 'succeeded', member_count: 0 });
    expect(run.pages).toEqual([
      expect.objectContaining({ page_number: null, remove: 4, state: 'delivered' }),
    ]);
    expect(await app.store.getSegment(id_token, 9)).toMatchObject({
      memberCount: 0,
      lastDrainAt: expect.any(Number),
    });
    expect(await allMembers(app.store, id_token, 9)).toEqual([]);
    const segments = await request(url).get(`${HUB}/segments`).expect(200);
    expect(segments.body.segments).toEqual([
      expect.objectContaining({ id_token, segment_id: 9, member_count: 0 }),
    ]);
  });

  it('stops at a page that is never accepted and later resends what the app never got', async () => {
    const { app, url } = await setup({ retry: { ...FAST_RETRY, maxAttempts: 2 } });
    const nobody = createServer();
    const deadUrl = await listen(nobody);
    await closeServer(nobody);
    await request(url)
      .put(`${HUB}/webhook`)
      .send({ url: `${deadUrl}/webhook` })
      .expect(200);

    const failed = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 11, users: 6, page_size: 2 })
      .expect(202);
    const run = await finishedRun(url, failed.body.id);
    expect(run).toMatchObject({
      state: 'failed',
      pages_delivered: 0,
      pages_failed: 1,
      member_count: 0,
    });
    expect(run.error).toMatch(/Page 1 was not accepted after 2 attempt/);
    expect(run.pages.map((page) => page.state)).toEqual(['failed', 'skipped', 'skipped']);
    expect(run.pages[0].attempts).toEqual([
      expect.objectContaining({ status: null, error: expect.stringMatching(/ECONNREFUSED/) }),
      expect.objectContaining({ status: null, error: expect.stringMatching(/ECONNREFUSED/) }),
    ]);

    const changed = await request(url)
      .put(`${HUB}/webhook`)
      .send({ url: `${app.url}/users_sync` })
      .expect(200);
    expect(changed.body).toEqual({ url: `${app.url}/users_sync`, secret_configured: true });
    const retry = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 11, users: 6 })
      .expect(202);
    const second = await finishedRun(url, retry.body.id);
    expect(second).toMatchObject({ state: 'succeeded', changes: { add: 6, remove: 0 } });
    expect(second.webhook_url).toBe(`${app.url}/users_sync`);
    expect(await allMembers(app.store, '', 11)).toEqual([...dummyUsers(6)].sort());
    const deliveries = await app.store.listDeliveries({ limit: 10 });
    expect(deliveries[0]).toMatchObject({ path: '/users_sync', segmentId: 11 });
  });

  it('retries an attempt that times out', async () => {
    const hanging = createServer(() => undefined);
    const hangingUrl = await listen(hanging);
    cleanups.push(() => closeServer(hanging));
    const { url } = await startEmulator({
      webhook: { url: hangingUrl, secret: SECRET },
      retry: { ...FAST_RETRY, maxAttempts: 2, timeoutMs: 100 },
    });
    const res = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 12, users: 1 })
      .expect(202);
    const run = await finishedRun(url, res.body.id);
    expect(run.state).toBe('failed');
    expect(run.pages[0].attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: null, error: 'timed out after 100 ms' }),
      expect.objectContaining({ attempt: 2, status: null, error: 'timed out after 100 ms' }),
    ]);
  });

  it('refuses a second run on a segment that is still delivering', async () => {
    const { app, url } = await setup();
    const lock = new Database(app.file);
    cleanups.push(() => {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
    });
    lock.exec('BEGIN EXCLUSIVE');
    const first = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 13, users: 2 })
      .expect(202);
    const busy = await request(url).post(`${HUB}/drain`).send({ segment_id: 13 }).expect(409);
    expect(busy.body).toMatchObject({ error: 'segment_busy', field: 'segment_id' });
    await request(url).post(`${HUB}/syncs`).send({ segment_id: 14, users: 1 }).expect(202);
    lock.exec('COMMIT');
    expect((await finishedRun(url, first.body.id)).state).toBe('succeeded');
    await request(url).post(`${HUB}/drain`).send({ segment_id: 13 }).expect(202);
  });

  it('lists connections without access tokens and the webhook without its secret', async () => {
    const { url } = await setup();
    const { id_token, access_token } = await connect(url, '4242');
    const res = await request(url).get(`${HUB}/connections`).expect(200);
    expect(res.body.connections).toEqual([
      {
        id_token,
        env_id: '4242',
        client_id: CLIENT.clientId,
        app_name: CLIENT.appName,
        authorized_by: 'ada@example.com',
        authorized_at_utc: expect.any(String),
      },
    ]);
    expect(res.text).not.toContain(access_token);
    const webhook = await request(url).get(`${HUB}/webhook`).expect(200);
    expect(Object.values(webhook.body)).not.toContain(SECRET);
    expect(webhook.body).toEqual({
      url: expect.stringMatching(/\/webhook$/),
      secret_configured: true,
    });
  });

  it('shows runs, attempts and connections on the hub page, escaped', async () => {
    const { url } = await setup();
    const { id_token } = await connect(url);
    const res = await request(url)
      .post(`${HUB}/syncs`)
      .send({ id_token, segment_id: 15, segment_name: '<img src=x onerror=alert(1)>', users: 3 })
      .expect(202);
    await finishedRun(url, res.body.id);

    const page = await request(url).get(`${PREFIX}/developers-hub`).expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('&lt;img src=x onerror=alert(1)&gt; (15)');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain(id_token);
    expect(page.text).toMatch(/<span class="badge ok">succeeded<\/span>/);
    expect(page.text).toMatch(/<td>1<\/td>\s*<td>1<\/td>\s*<td>200<\/td>\s*<td>\d+ ms<\/td>/);
    expect(page.text).toContain(`data-base="${PREFIX}"`);
    expect(page.text).toContain(`<script src="${PREFIX}/developers-hub/hub.js" defer>`);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");

    const live = await request(url).get(`${PREFIX}/developers-hub?fragment=live`).expect(200);
    expect(live.text).not.toContain('<html');
    expect(live.text).toContain('&lt;img src=x');
    expect(live.text).not.toContain('data-running');

    const script = await request(url).get(`${PREFIX}/developers-hub/hub.js`).expect(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.text).toContain('/api/hub/syncs');
  });

  it('marks the live section as running while a run delivers, so the page keeps refreshing', async () => {
    const { app, url } = await setup();
    const lock = new Database(app.file);
    cleanups.push(() => {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
    });
    lock.exec('BEGIN EXCLUSIVE');
    const res = await request(url)
      .post(`${HUB}/syncs`)
      .send({ segment_id: 16, users: 1 })
      .expect(202);
    const live = await request(url).get(`${PREFIX}/developers-hub?fragment=live`).expect(200);
    expect(live.text).toContain('data-running="true"');
    lock.exec('COMMIT');
    await finishedRun(url, res.body.id);
  });

  describe('refuses bad input with a 400 JSON naming the field', () => {
    it.each([
      ['/syncs', {}, 'segment_id'],
      ['/syncs', { segment_id: -1, users: 1 }, 'segment_id'],
      ['/syncs', { segment_id: 1.5, users: 1 }, 'segment_id'],
      ['/syncs', { segment_id: '7', users: 1 }, 'segment_id'],
      ['/syncs', { segment_id: 1338065, users: 1 }, 'segment_id'],
      ['/syncs', { segment_id: 7, users: -3 }, 'users'],
      ['/syncs', { segment_id: 7, users: 1, churn: { add: 1 } }, 'churn'],
      ['/syncs', { segment_id: 7, churn: { add: 'x' } }, 'churn.add'],
      ['/syncs', { segment_id: 7, churn: { join: 1 } }, 'churn.join'],
      ['/syncs', { segment_id: 7, churn: { remove: 1 } }, 'churn.remove'],
      ['/syncs', { segment_id: 7, users: 1, page_size: 0 }, 'page_size'],
      ['/syncs', { segment_id: 7, users: 1, pagesize: 5 }, 'pagesize'],
      ['/syncs', { segment_id: 7, users: 1, segment_name: '' }, 'segment_name'],
      ['/syncs', { segment_id: 7, users: 1, id_token: 'not-connected' }, 'id_token'],
      ['/syncs', [1, 2], 'body'],
      ['/syncs', { segment_id: 7, churn: 3 }, 'churn'],
      ['/drain', { segment_id: null }, 'segment_id'],
      ['/drain', { segment_id: 3, id_token: 'not-connected' }, 'id_token'],
      ['/sample-segment', { id_token: 42 }, 'id_token'],
    ])('POST %s %j → %s', async (route, body, field) => {
      const { url } = await setup();
      const res = await request(url).post(`${HUB}${route}`).send(body).expect(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toEqual({ error: expect.any(String), message: expect.any(String), field });
      expect(res.body.message).toContain(field === 'body' ? 'JSON object' : field);
    });

    it('PUT /webhook with a URL that is not http(s)', async () => {
      const { url } = await setup();
      const res = await request(url).put(`${HUB}/webhook`).send({ url: 'ftp://x/y' }).expect(400);
      expect(res.body).toMatchObject({ error: 'invalid_field', field: 'url' });
      const current = await request(url).get(`${HUB}/webhook`).expect(200);
      expect(current.body.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhook$/);
    });

    it('malformed JSON, a non-JSON body, an unknown route or run', async () => {
      const { url } = await setup();
      const broken = await request(url)
        .post(`${HUB}/syncs`)
        .set('Content-Type', 'application/json')
        .send('{"segment_id": ')
        .expect(400);
      expect(broken.body).toMatchObject({ error: 'invalid_json' });
      const form = await request(url)
        .post(`${HUB}/syncs`)
        .type('form')
        .send({ segment_id: 7 })
        .expect(415);
      expect(form.body).toMatchObject({ error: 'unsupported_media_type' });
      const unknownRoute = await request(url).get(`${HUB}/nothing`).expect(404);
      expect(unknownRoute.body).toMatchObject({ error: 'not_found' });
      const unknownRun = await request(url).get(`${HUB}/syncs/no-such-run`).expect(404);
      expect(unknownRun.body).toMatchObject({ error: 'not_found' });
    });
  });
});

describe('createEmulator', () => {
  it('throws a TypeError listing every problem with the options', () => {
    expect(() =>
      createEmulator({
        clients: [{ ...CLIENT, redirectUri: 'not a url' }],
        webhook: { url: 'http://127.0.0.1:9/webhook', secret: '' },
        retry: { maxAttempts: 0 },
      }),
    ).toThrow(/redirectUri[\s\S]*webhook\.secret[\s\S]*retry\.maxAttempts/);
  });

  it('refuses allowedUrls that leave out webhook.url', () => {
    expect(() =>
      createEmulator({
        clients: [CLIENT],
        webhook: {
          url: 'http://127.0.0.1:9/webhook',
          secret: SECRET,
          allowedUrls: ['http://127.0.0.1:9/other'],
        },
      }),
    ).toThrow(/webhook\.allowedUrls must include webhook\.url/);
  });

  it('with webhook.allowedUrls (mounted in the app), PUT /webhook takes only those', async () => {
    const { url } = await startEmulator({
      webhook: {
        url: 'http://127.0.0.1:9/webhook',
        secret: SECRET,
        allowedUrls: ['http://127.0.0.1:9/webhook', 'http://127.0.0.1:9/users_sync'],
      },
    });
    const refused = await request(url)
      .put(`${HUB}/webhook`)
      .send({ url: 'http://127.0.0.1:10/webhook' })
      .expect(403);
    expect(refused.body).toMatchObject({ error: 'webhook_url_not_allowed', field: 'url' });
    expect(refused.body.message).toContain('npm run heap-emulator');
    await request(url)
      .put(`${HUB}/webhook`)
      .send({ url: 'http://127.0.0.1:9/users_sync' })
      .expect(200, { url: 'http://127.0.0.1:9/users_sync', secret_configured: true });
  });

  it('answers only requests addressed to loopback or its public URL’s host', async () => {
    const { url } = await startEmulator({ publicBaseUrl: 'https://heap.test.example/emu' });
    const port = new URL(url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'heap.test.example']) {
      await request(url).get(`${HUB}/webhook`).set('Host', host).expect(200);
    }
    const refused = await request(url)
      .get(`${HUB}/webhook`)
      .set('Host', 'evil.example')
      .expect(403);
    expect(refused.body).toEqual({ error: 'host_not_allowed', message: expect.any(String) });
  });

  it('runs alone on its own port, the hub at /developers-hub', async () => {
    const emulator = createEmulator({
      clients: [CLIENT],
      webhook: { url: 'http://127.0.0.1:9/webhook', secret: SECRET },
    });
    cleanups.push(() => emulator.close());
    const { url } = await emulator.listen();
    const root = await request(url).get('/').expect(302);
    expect(root.headers.location).toBe('/developers-hub');
    const page = await request(url).get('/developers-hub').expect(200);
    expect(page.text).toContain(`${url}/api/partner/oauth/authorize`);
    await request(url).get('/api/hub/syncs').expect(200, { runs: [] });
    const missing = await request(url).get('/elsewhere').expect(404);
    expect(missing.body).toMatchObject({ error: 'not_found' });
  });
});
