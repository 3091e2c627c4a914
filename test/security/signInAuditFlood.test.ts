// Attack: flood the sign-in from many addresses to grow the audit log without bound. Beyond the failure budget, attempts are counted per minute, not stored one by one.
import http from 'node:http';
import { listenLocally } from '../support/heapDelivery';
import { openTestApp, type TestApp } from '../support/testApp';

const BUDGET = 10;
let t: TestApp;
let server: http.Server;
let base: string;

beforeEach(async () => {
  t = await openTestApp({ ADMIN_LOGIN_FAILURES_PER_MINUTE: String(BUDGET), TRUST_PROXY: '1' });
  server = http.createServer(t.app);
  base = await listenLocally(server);
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

async function guess(i: number, via: 'session' | 'bearer'): Promise<number> {
  const address = `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  const res =
    via === 'session'
      ? await fetch(`${base}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
          body: JSON.stringify({ token: `guess-${i}` }),
        })
      : await fetch(`${base}/api/overview`, {
          headers: { authorization: `Bearer guess-${i}`, 'x-forwarded-for': address },
        });
  await res.arrayBuffer();
  return res.status;
}

it('keeps one row per failure only within the global failure budget, and one counted row per minute beyond it', async () => {
  // The admin reads the API from the office before the attack (a known address keeps access).
  const read = () =>
    fetch(`${base}/api/audit?limit=500`, {
      headers: { authorization: `Bearer ${t.config.admin.token}`, 'x-forwarded-for': '192.0.2.50' },
    });
  expect((await read()).status).toBe(200);
  const statuses: number[] = [];
  // 600 sign-in guesses and 200 bearer guesses, each from its own address, eight at a time.
  const attempts = [
    ...Array.from({ length: 600 }, (_, i) => [i, 'session'] as const),
    ...Array.from({ length: 200 }, (_, i) => [600 + i, 'bearer'] as const),
  ];
  for (let i = 0; i < attempts.length; i += 8) {
    statuses.push(
      ...(await Promise.all(attempts.slice(i, i + 8).map(([n, via]) => guess(n, via)))),
    );
  }
  expect(statuses.filter((s) => s === 401)).toHaveLength(BUDGET);
  expect(statuses.filter((s) => s === 429)).toHaveLength(800 - BUDGET);

  // Reading the log writes the counts held in memory first.
  const res = await read();
  expect(res.status).toBe(200);
  const { entries } = (await res.json()) as {
    entries: {
      event: string;
      client: string | null;
      count: number;
      detail: { reason: string; via: string };
    }[];
  };
  const single = entries.filter((e) => e.detail.reason === 'invalid_credentials');
  const counted = entries.filter((e) => e.detail.reason === 'too_many_attempts');
  expect(single).toHaveLength(BUDGET);
  expect(single.every((e) => e.count === 1 && e.client?.startsWith('198.51.'))).toBe(true);
  // At most one counted row per minute and way in (the run may straddle a minute boundary).
  expect(counted.length).toBeGreaterThanOrEqual(2);
  expect(counted.length).toBeLessThanOrEqual(4);
  expect(counted.every((e) => e.client === null && e.event === 'sign_in_failed')).toBe(true);
  expect(counted.reduce((sum, e) => sum + e.count, 0)).toBe(800 - BUDGET);
  expect(entries.length).toBeLessThanOrEqual(BUDGET + 4);
  // And the table holds no more than the API shows.
  expect(await t.store.listAudit({ limit: 10_000 })).toHaveLength(entries.length);
}, 120_000);
