// Attack: anonymous GET /api/authorize in a loop, each storing an OAuth state, to fill the database.
import Database from 'better-sqlite3';
import pg from 'pg';
import { runRetention } from '../../src/store/retention';
import { describeEachStore, type StoreBackend } from '../support/backends';
import { startLiveApp, type LiveApp } from '../support/liveApp';

const MAX_PENDING = 20;

let app: LiveApp;
afterEach(async () => {
  await app?.close();
});

/** Rows in oauth_states, read from the database itself. */
async function storedStates(target: LiveApp): Promise<number> {
  if (target.config.postgres) {
    const client = new pg.Client({ connectionString: target.config.postgres.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM oauth_states');
      return Number(rows[0].n);
    } finally {
      await client.end();
    }
  }
  const db = new Database(target.config.sqlite.file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM oauth_states').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const authorize = () => fetch(`${app.url}/api/authorize`, { redirect: 'manual' });

async function start(backend: StoreBackend): Promise<LiveApp> {
  // A configured (non-sandbox) OAuth client: /api/authorize only redirects, it never calls Heap.
  return startLiveApp({
    ...(await backend.env()),
    CLIENT_ID: 'flood-client',
    CLIENT_SECRET: 'flood-client-secret',
    REDIRECT_URI: 'http://127.0.0.1:9/api/oauth_redirect',
    HEAP_BASE_URL: 'http://127.0.0.1:9',
    OAUTH_MAX_PENDING_STATES: String(MAX_PENDING),
  });
}

describeEachStore('OAuth state flood', (backend) => {
  it('stores at most OAUTH_MAX_PENDING_STATES states, then answers 503 + Retry-After', async () => {
    app = await start(backend);
    const statuses: number[] = [];
    for (let i = 0; i < MAX_PENDING + 30; i++) {
      const res = await authorize();
      statuses.push(res.status);
      if (res.status === 503) {
        expect(res.headers.get('retry-after')).toBe('60');
        expect(res.headers.get('set-cookie')).toBeNull();
        expect(await res.text()).toContain('Too many connections are being started');
      } else {
        await res.body?.cancel();
      }
    }
    expect(statuses.filter((s) => s === 303)).toHaveLength(MAX_PENDING);
    expect(statuses.filter((s) => s === 503)).toHaveLength(30);
    expect(await storedStates(app)).toBe(MAX_PENDING);
    // One warning for the whole flood, not one a request.
    expect(app.logs.filter((line) => line.includes('OAUTH_MAX_PENDING_STATES'))).toHaveLength(1);

    // Once they expire the retention job deletes them, and authorizing works again.
    const report = await runRetention(
      app.store,
      { signatureMaxAgeMs: 0, deliveriesMaxAgeMs: 0, syncTasksMaxAgeMs: 0, changesMaxAgeMs: 0 },
      { now: () => Date.now() + 11 * 60_000, pauseMs: 0 },
    );
    expect(report.oauth_states).toBe(MAX_PENDING);
    expect(await storedStates(app)).toBe(0);
    const again = await authorize();
    expect(again.status).toBe(303);
    await again.body?.cancel();
  });
});
