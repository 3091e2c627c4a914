// Attack: a forged Host or X-Forwarded-Host makes the sandbox send a browser (and its authorization code) to the attacker's host.
import path from 'node:path';
import { createEmulator, type Emulator } from '../../src/emulator';
import { isAllowedEmulatorHost } from '../../src/emulator/hostCheck';
import { rawRequest } from '../support/rawHttp';
import { consentFields, OriginClient } from '../support/originClient';
import { repoRoot, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

const CLI = path.join(repoRoot, 'bin', 'heap-partner-api.js');
const AUTHORIZE = '/heap-emulator/api/partner/oauth/authorize';
const EVIL = 'evil.example';

const running: ServerProcess[] = [];
afterAll(() => {
  for (const server of running) server.child.kill('SIGKILL');
});

async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer({ DATA_DIR: tempDir('hpa-spoofhost-'), ...env }, repoRoot, [
    CLI,
    'serve',
  ]);
  running.push(server);
  return server;
}

function authorizeQuery(redirectUri: string): string {
  return new URLSearchParams({
    client_id: 'local-sandbox',
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'segment',
    state: 'attacker-state',
  }).toString();
}

/** Every URL a response points a browser at: its Location and the links and forms of its page. */
function urlsIn(res: { headers: Record<string, unknown>; body: string }): string {
  return `${String(res.headers.location ?? '')}\n${res.body}`;
}

describe('npm start with nothing set (no TRUST_PROXY)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start();
  });

  it.each([
    ['X-Forwarded-Host', { 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https' }],
    ['Forwarded', { forwarded: `host=${EVIL};proto=https` }],
  ])(
    'ignores a forged %s when starting Connect Heap: the browser stays on the host it used',
    async (_name, forged) => {
      const client = new OriginClient(server.port, { headers: forged });
      const origin = `http://localhost:${server.port}`;
      const res = await client.request(`${origin}/api/authorize`, { method: 'POST' });
      expect(res.status).toBe(303);
      const location = new URL(res.location ?? '');
      expect(location.origin).toBe(origin);
      expect(location.searchParams.get('redirect_uri')).toBe(`${origin}/api/oauth_redirect`);
      expect(urlsIn(res)).not.toContain(EVIL);
    },
  );

  it.each([EVIL, `${EVIL}:3000`, 'localhost.evil.example', 'localhost@evil.example'])(
    'never builds the redirect URI from a Host it would not serve the emulator on (%s): PUBLIC_URL is used',
    async (host) => {
      const client = new OriginClient(server.port, { headers: { host } });
      const res = await client.request(`http://127.0.0.1:${server.port}/api/authorize`, {
        method: 'POST',
      });
      expect(res.status).toBe(303);
      const location = new URL(res.location ?? '');
      expect(location.origin).toBe(`http://localhost:${server.port}`);
      expect(location.searchParams.get('redirect_uri')).toBe(
        `http://localhost:${server.port}/api/oauth_redirect`,
      );
      expect(urlsIn(res)).not.toContain('evil');
    },
  );

  const refused: [string, (port: number) => { uri: string; forged?: Record<string, string> }][] = [
    ['another host', () => ({ uri: `http://${EVIL}/api/oauth_redirect` })],
    ['another host on our port', (port) => ({ uri: `http://${EVIL}:${port}/api/oauth_redirect` })],
    [
      'another of our own loopback origins',
      (port) => ({ uri: `http://127.0.0.1:${port}/api/oauth_redirect` }),
    ],
    ['https on our host', (port) => ({ uri: `https://localhost:${port}/api/oauth_redirect` })],
    ['another path on our origin', (port) => ({ uri: `http://localhost:${port}/api/other` })],
    [
      'the host named by a forged X-Forwarded-Host',
      (port) => ({
        uri: `https://${EVIL}:${port}/api/oauth_redirect`,
        forged: { 'x-forwarded-host': `${EVIL}:${port}`, 'x-forwarded-proto': 'https' },
      }),
    ],
  ];
  it.each(refused)(
    'the emulator refuses a redirect URI on %s (no consent form, no redirect)',
    async (_what, attempt) => {
      const { uri, forged } = attempt(server.port);
      const res = await rawRequest({
        port: server.port,
        path: `${AUTHORIZE}?${authorizeQuery(uri)}`,
        headers: { host: `localhost:${server.port}`, ...forged },
      });
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toContain('This authorization request is not valid');
      expect(consentFields(res.body).nonce).toBeUndefined();
    },
  );

  it('the emulator answers no request addressed to a network address while it listens on loopback only', async () => {
    const res = await rawRequest({
      port: server.port,
      path: `${AUTHORIZE}?${authorizeQuery(`http://192.0.2.66:${server.port}/api/oauth_redirect`)}`,
      headers: { host: `192.0.2.66:${server.port}` },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'host_not_allowed' });
  });
});

describe('TRUST_PROXY=loopback, a DNS-rebinding page forging X-Forwarded-Host itself', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({ TRUST_PROXY: 'loopback' });
  });

  it('the Host the browser really sent (the attacker name) decides: PUBLIC_URL is used', async () => {
    // The page at http://evil.example:PORT (re-pointed at 127.0.0.1) names a host of its choice.
    const client = new OriginClient(server.port, {
      headers: {
        host: `${EVIL}:${server.port}`,
        'x-forwarded-host': 'attacker.example',
        'x-forwarded-proto': 'https',
      },
    });
    const started = await client.request(`http://${EVIL}:${server.port}/api/authorize`, {
      method: 'POST',
    });
    expect(started.status).toBe(303);
    const location = new URL(started.location ?? '');
    expect(location.origin).toBe(`http://localhost:${server.port}`);
    expect(location.searchParams.get('redirect_uri')).toBe(
      `http://localhost:${server.port}/api/oauth_redirect`,
    );
    expect(urlsIn(started)).not.toContain('attacker.example');
  });

  it('the emulator refuses it even when the forged X-Forwarded-Host names localhost', async () => {
    const consent = await rawRequest({
      port: server.port,
      path: `${AUTHORIZE}?${authorizeQuery(`http://localhost:${server.port}/api/oauth_redirect`)}`,
      headers: { host: `${EVIL}:${server.port}`, 'x-forwarded-host': `localhost:${server.port}` },
    });
    expect(consent.status).toBe(403);
    expect(JSON.parse(consent.body)).toMatchObject({ error: 'host_not_allowed' });
  });

  it('(control) the proxy it trusts, addressing it by loopback, is believed', async () => {
    const client = new OriginClient(server.port, { forwardedBy: 'proxy' });
    const started = await client.request('https://dev-box.example.test/api/authorize', {
      method: 'POST',
    });
    expect(new URL(started.location ?? '').origin).toBe('https://dev-box.example.test');
  });
});

describe('a consent form opened at a forged address cannot be approved from a victim browser', () => {
  // An emulator that, like the sandbox with HOST=0.0.0.0, answers requests addressed to an IP
  // address and accepts its app's callback path on the origin it was addressed to.
  let emulator: Emulator;
  let port: number;
  beforeAll(async () => {
    emulator = createEmulator({
      clients: [
        {
          clientId: 'local-sandbox',
          clientSecret: 'sandbox-secret',
          redirectUri: 'http://localhost:1/api/oauth_redirect',
          appName: 'the app',
          sameOriginRedirectPath: '/api/oauth_redirect',
        },
      ],
      webhook: { url: 'http://localhost:1/webhook', secret: 'dev-secret' },
      allowIpHosts: true,
    });
    port = Number(new URL((await emulator.listen()).url).port);
  });
  afterAll(async () => {
    await emulator.close();
  });

  async function openConsentAs(host: string) {
    const page = await rawRequest({
      port,
      path: `/api/partner/oauth/authorize?${authorizeQuery(`http://${host}/api/oauth_redirect`)}`,
      headers: { host },
    });
    expect(page.status).toBe(200);
    return consentFields(page.body).nonce;
  }

  function decide(host: string, nonce: string) {
    return rawRequest({
      port,
      method: 'POST',
      path: '/api/partner/oauth/authorize',
      headers: { host, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        nonce,
        decision: 'approve',
        env_id: '1',
        authorized_by: 'victim@example.com',
      }).toString(),
    });
  }

  it('refuses the decision posted to another origin than the one the form was opened at', async () => {
    // The attacker opens the consent form addressing the emulator as its own IP (a forged Host),
    // then makes the victim's browser, which uses localhost, post Approve with that nonce.
    const nonce = await openConsentAs('192.0.2.66');
    const res = await decide(`localhost:${port}`, nonce);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('started at another address');
  });

  it('(control) the same decision posted to the origin the form was opened at redirects there', async () => {
    const host = `127.0.0.1:${port}`;
    const nonce = await openConsentAs(host);
    const res = await decide(host, nonce);
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${port}/api/oauth_redirect\\?code=`),
    );
  });
});

describe('isAllowedEmulatorHost when the server listens beyond loopback (IP addresses admitted)', () => {
  it.each([
    ['192.0.2.2:3000', true],
    ['[fd00::2]:3000', true],
    ['127.0.0.1', true],
    ['app.example.com', true],
    ['0.0.0.0:3000', false],
    ['[::]:3000', false],
    ['evil.example', false],
    ['2130706433', false],
    ['192.0.2.2.evil.example', false],
    ['192.0.2.2@evil.example', false],
  ])('%s → %s', (host, allowed) => {
    expect(isAllowedEmulatorHost(host, ['app.example.com'], true)).toBe(allowed);
  });
});
