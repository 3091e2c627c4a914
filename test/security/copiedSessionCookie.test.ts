// Attack: a stolen or copied admin session cookie (sniffed over http, read from a shared machine) against the built server.
import { startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

const ADMIN_TOKEN = 'cookie-test-admin-token-0123456789';

let running: ServerProcess | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = undefined;
});

async function signIn(server: ServerProcess) {
  const res = await fetch(`${server.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: ADMIN_TOKEN }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.getSetCookie()[0];
  const body = (await res.json()) as { csrf_token: string };
  return { res, setCookie, cookie: setCookie.split(';')[0], csrf: body.csrf_token };
}

function overview(server: ServerProcess, cookie: string) {
  return fetch(`${server.url}/api/overview`, { headers: { cookie } });
}

it('with an https PUBLIC_URL: a Secure, __Host-, HttpOnly, SameSite=Strict cookie, and HSTS', async () => {
  running = await startServer({
    DATA_DIR: tempDir(),
    ADMIN_TOKEN,
    PUBLIC_URL: 'https://partner.example',
  });
  const { res, setCookie } = await signIn(running);
  const attributes = setCookie.split(/;\s*/).slice(1);
  expect(setCookie).toMatch(/^__Host-hpa_admin=s%3A/);
  expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'Secure']));
  expect(attributes).toContain('SameSite=Strict');
  // __Host- cookies must have no Domain (browsers drop them otherwise).
  expect(attributes.some((attribute) => /^Domain=/i.test(attribute))).toBe(false);
  expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  for (const path of ['/', '/docs', '/api/openapi.json', '/healthcheck']) {
    const page = await fetch(`${running.url}${path}`);
    expect([path, page.headers.get('strict-transport-security')]).toEqual([
      path,
      'max-age=31536000; includeSubDomains',
    ]);
  }
});

it('with an http PUBLIC_URL in development: no Secure flag (it would never be sent), no HSTS', async () => {
  running = await startServer({ DATA_DIR: tempDir(), ADMIN_TOKEN });
  const { res, setCookie } = await signIn(running);
  expect(setCookie).toMatch(/^hpa_admin=s%3A/);
  expect(setCookie).not.toMatch(/; Secure/);
  expect(res.headers.get('strict-transport-security')).toBeNull();
  expect((await fetch(`${running.url}/`)).headers.get('strict-transport-security')).toBeNull();
});

it('refuses a copy of the cookie once its session has signed out', async () => {
  running = await startServer({ DATA_DIR: tempDir(), ADMIN_TOKEN });
  const { cookie, csrf } = await signIn(running);
  const copied = cookie;
  expect((await overview(running, copied)).status).toBe(200);
  const out = await fetch(`${running.url}/api/session`, {
    method: 'DELETE',
    headers: { cookie, 'x-csrf-token': csrf },
  });
  expect(out.status).toBe(204);
  const refused = await overview(running, copied);
  expect(refused.status).toBe(401);
  expect(await refused.json()).toMatchObject({ error: 'authentication_required' });
  // Another session is unaffected by the first one's sign-out.
  const other = await signIn(running);
  expect((await overview(running, other.cookie)).status).toBe(200);
});

it('refuses the copied cookie on a second instance sharing the store after sign-out there', async () => {
  const dataDir = tempDir();
  running = await startServer({ DATA_DIR: dataDir, ADMIN_TOKEN });
  const second = await startServer({ DATA_DIR: dataDir, ADMIN_TOKEN });
  try {
    const { cookie, csrf } = await signIn(running);
    expect((await overview(second, cookie)).status).toBe(200);
    const out = await fetch(`${second.url}/api/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.status).toBe(204);
    expect((await overview(running, cookie)).status).toBe(401);
  } finally {
    second.child.kill('SIGKILL');
  }
});
