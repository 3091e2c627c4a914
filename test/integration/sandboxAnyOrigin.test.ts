// Connect Heap over real HTTP in the zero-config sandbox, at every origin a browser may use: loopback names, a forwarded URL behind a proxy; and nothing of it outside the sandbox.
import { repoRoot, startServer, type ServerProcess } from '../support/serverProcess';
import { connectAt, OriginClient } from '../support/originClient';
import { tempDir } from '../support/testApp';
import path from 'node:path';

const CLI = path.join(repoRoot, 'bin', 'heap-partner-api.js');
const running: ServerProcess[] = [];
afterAll(() => {
  for (const server of running) server.child.kill('SIGKILL');
});

/** `npm start` (the CLI's serve) with nothing set but a data directory and `env`. */
async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer({ DATA_DIR: tempDir('hpa-anyorigin-'), ...env }, repoRoot, [
    CLI,
    'serve',
  ]);
  running.push(server);
  return server;
}

function redirectUriOf(url: string): string | null {
  return new URL(url).searchParams.get('redirect_uri');
}

describe('npm start with nothing set', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start();
  });

  it.each(['localhost', '127.0.0.1', '[::1]', 'app.localhost'])(
    'completes Connect Heap at http://%s:PORT without leaving that origin',
    async (host) => {
      const origin = `http://${host}:${server.port}`;
      const flow = await connectAt(new OriginClient(server.port), origin);
      expect(flow.authorize.status).toBe(303);
      expect(
        flow.consentUrl.startsWith(`${origin}/heap-emulator/api/partner/oauth/authorize?`),
      ).toBe(true);
      expect(redirectUriOf(flow.consentUrl)).toBe(`${origin}/api/oauth_redirect`);
      expect(flow.consent.status).toBe(200);
      expect(flow.decided.status).toBe(302);
      expect(flow.callbackUrl.startsWith(`${origin}/api/oauth_redirect?code=`)).toBe(true);
      expect(flow.callback?.status).toBe(200);
      expect(flow.callback?.body).toContain('Heap is connected');
    },
  );

  it('still accepts the registered redirect URI (PUBLIC_URL, here the default http://localhost:PORT)', async () => {
    const client = new OriginClient(server.port);
    const registered = `http://localhost:${server.port}/api/oauth_redirect`;
    const consent = await client.request(
      `http://localhost:${server.port}/heap-emulator/api/partner/oauth/authorize?${new URLSearchParams(
        {
          client_id: 'local-sandbox',
          redirect_uri: registered,
          response_type: 'code',
          scope: 'segment',
          state: 's',
        },
      )}`,
      // Addressed to another loopback origin: the registered URI is accepted from anywhere.
      { headers: { host: `127.0.0.1:${server.port}` } },
    );
    expect(consent.status).toBe(200);
    expect(consent.body).toContain(registered);
  });
});

describe('behind a proxy (TRUST_PROXY=loopback, X-Forwarded-Host/-Proto)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({ TRUST_PROXY: 'loopback' });
  });

  it.each(['https://dev-box.example.test', 'https://dev-box.example.test:8443'])(
    'completes Connect Heap at the forwarded URL %s',
    async (origin) => {
      const flow = await connectAt(new OriginClient(server.port, { forwardedBy: 'proxy' }), origin);
      expect(flow.authorize.status).toBe(303);
      expect(
        flow.consentUrl.startsWith(`${origin}/heap-emulator/api/partner/oauth/authorize?`),
      ).toBe(true);
      expect(redirectUriOf(flow.consentUrl)).toBe(`${origin}/api/oauth_redirect`);
      expect(flow.consent.status).toBe(200);
      expect(flow.callbackUrl.startsWith(`${origin}/api/oauth_redirect?code=`)).toBe(true);
      expect(flow.callback?.status).toBe(200);
      expect(flow.callback?.body).toContain('Heap is connected');
    },
  );

  it('a browser reaching it directly (no proxy headers) still connects on its own origin', async () => {
    const origin = `http://127.0.0.1:${server.port}`;
    const flow = await connectAt(new OriginClient(server.port), origin);
    expect(flow.callbackUrl.startsWith(`${origin}/api/oauth_redirect?code=`)).toBe(true);
    expect(flow.callback?.body).toContain('Heap is connected');
  });
});

describe('outside the sandbox (CLIENT_ID and REDIRECT_URI set): nothing changes', () => {
  const REDIRECT_URI = 'https://partner.example.com/api/oauth_redirect';
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({
      WEBHOOK_SECRET: 'the-real-webhook-secret',
      CLIENT_ID: 'real-client',
      CLIENT_SECRET: 'real-client-secret',
      REDIRECT_URI,
      PUBLIC_URL: 'https://partner.example.com',
      TRUST_PROXY: 'loopback',
    });
  });

  it.each<Record<string, string>>([
    { host: '127.0.0.1' },
    { host: 'localhost' },
    { host: 'evil.example' },
    { host: '127.0.0.1', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' },
  ])('sends the browser to Heap with the registered redirect URI (%o)', async (headers) => {
    const client = new OriginClient(server.port, { headers });
    const res = await client.request(`http://127.0.0.1:${server.port}/api/authorize`, {
      method: 'POST',
    });
    expect(res.status).toBe(303);
    const location = new URL(res.location ?? '');
    expect(location.origin + location.pathname).toBe(
      'https://heapanalytics.com/api/partner/oauth/authorize',
    );
    expect(location.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(location.searchParams.get('client_id')).toBe('real-client');
  });
});
