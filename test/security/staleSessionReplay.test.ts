// Attack: replaying an abandoned session cookie or an old one-click sign-in link (scrollback, logs), with an injectable clock over real HTTP.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminAccess } from '../../src/admin/access';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/server/logger';
import { openStore } from '../../src/store';
import { describeEachStore, type StoreBackend } from '../support/backends';
import { testConfig } from '../support/testApp';

const MINUTE = 60_000;

/** The app with the server's store and an AdminAccess whose clock the test moves. */
async function startWithClock(backend: StoreBackend, env: Record<string, string> = {}) {
  const config = testConfig({ ...(await backend.env()), ...env });
  const logger = createLogger('silent');
  const store = await openStore(config, logger);
  const clock = { now: Date.now() };
  const access = new AdminAccess(config.admin, config.sessionSecret, {
    sessions: store,
    secureCookies: config.secureCookies,
    now: () => clock.now,
  });
  const server = http.createServer(createApp({ config, store, logger, adminAccess: access }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    access,
    clock,
    token: config.admin.token,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    },
  };
}

async function signIn(url: string, credential: { token?: string; code?: string }) {
  const res = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credential),
  });
  return { status: res.status, cookie: res.headers.getSetCookie()[0]?.split(';')[0] };
}

const overview = (url: string, cookie: string) =>
  fetch(`${url}/api/overview`, { headers: { cookie } }).then((res) => res.status);

describeEachStore('stale sessions and sign-in links', (backend) => {
  let running: Awaited<ReturnType<typeof startWithClock>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('refuses a session idle for longer than ADMIN_SESSION_IDLE_MINUTES, keeps a used one', async () => {
    running = await startWithClock(backend, { ADMIN_SESSION_IDLE_MINUTES: '30' });
    const { url, clock } = running;
    const used = await signIn(url, { token: running.token });
    const abandoned = await signIn(url, { token: running.token });
    expect(used.status).toBe(200);
    // Used every 10 minutes for two hours: never idle for 30.
    for (let i = 0; i < 12; i++) {
      clock.now += 10 * MINUTE;
      expect(await overview(url, used.cookie)).toBe(200);
    }
    // The other was last used two hours ago: idle, refused, although its 12 h have not passed.
    expect(await overview(url, abandoned.cookie)).toBe(401);
    // Idle for just under the limit still works (the touch interval makes the limit at most a
    // minute generous), and 30 minutes and a bit more does not.
    clock.now += 29 * MINUTE;
    expect(await overview(url, used.cookie)).toBe(200);
    clock.now += 31 * MINUTE;
    expect(await overview(url, used.cookie)).toBe(401);
  });

  it('refuses a session after ADMIN_SESSION_HOURS however active it is', async () => {
    running = await startWithClock(backend, { ADMIN_SESSION_HOURS: '1' });
    const { url, clock } = running;
    const session = await signIn(url, { token: running.token });
    for (let i = 0; i < 5; i++) {
      clock.now += 11 * MINUTE;
      expect(await overview(url, session.cookie)).toBe(200);
    }
    clock.now += 6 * MINUTE;
    expect(await overview(url, session.cookie)).toBe(401);
  });

  it('refuses a one-click sign-in code 15 minutes after it was printed', async () => {
    running = await startWithClock(backend);
    const { url, clock, access } = running;
    const stale = access.issueLoginCode();
    clock.now += 15 * MINUTE;
    const fresh = access.issueLoginCode();
    expect(await signIn(url, { code: stale })).toMatchObject({ status: 401 });
    clock.now += 14 * MINUTE;
    const ok = await signIn(url, { code: fresh });
    expect(ok.status).toBe(200);
    expect(await overview(url, ok.cookie)).toBe(200);
  });
});
