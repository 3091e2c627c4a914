// Admin authentication over HTTP: 401 on every documented operation, bearer, session cookie, CSRF, throttling.
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/testApp';
import { samplePath, specOperations } from '../support/adminSpec';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

function call(app: TestApp['app'], method: string, path: string) {
  const req = request(app)[method as 'get'](path);
  return method === 'get' || method === 'delete'
    ? req
    : req.set('Content-Type', 'application/json').send('{}');
}

/** Signs in with the token and returns the session cookie and CSRF token. */
async function signIn(app: TestApp['app'], token: string) {
  const res = await request(app).post('/api/session').send({ token }).expect(200);
  const setCookie = res.headers['set-cookie'] as unknown as string[];
  return {
    res,
    setCookie,
    cookie: setCookie[0].split(';')[0],
    csrf: res.body.csrf_token as string,
  };
}

describe('every documented admin operation', () => {
  const operations = specOperations();

  it.each(operations.map((op) => [op.method.toUpperCase(), op.path, op]))(
    '%s %s answers 401 JSON without credentials',
    async (_method, _path, op) => {
      t = makeTestApp();
      const url = samplePath(op.path);
      for (const res of [
        await call(t.app, op.method, url),
        await call(t.app, op.method, url).set('Cookie', 'hpa_admin=s%3Aforged.sig'),
        await call(t.app, op.method, url).set('Authorization', 'Basic YWRtaW46YWRtaW4='),
      ]) {
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.body).toEqual({
          error: expect.stringMatching(/^(authentication_required|invalid_credentials)$/),
          message: expect.any(String),
        });
      }
    },
  );

  it('401s undocumented paths under /api too, so a new route is protected by default', async () => {
    t = makeTestApp();
    for (const path of ['/api/anything', '/api/connections/x/secret', '/api/members.csv']) {
      expect((await request(t.app).get(path)).status).toBe(401);
    }
    // Public on purpose: the OAuth start, the document and the docs page.
    expect((await request(t.app).get('/api/openapi.json')).status).toBe(200);
    expect((await request(t.app).get('/docs')).status).toBe(200);
  });
});

describe('bearer token', () => {
  it('is accepted exactly, and a wrong one is refused without saying why', async () => {
    t = makeTestApp();
    const token = t.config.admin.token;
    const ok = await request(t.app).get('/api/overview').set('Authorization', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    for (const wrong of [`${token}x`, token.slice(1), token.toUpperCase()]) {
      const res = await request(t.app).get('/api/overview').set('Authorization', `Bearer ${wrong}`);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_credentials');
      expect(JSON.stringify(res.body)).not.toContain(token);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    }
  });

  it('slows down repeated wrong tokens with 429 and Retry-After, even for the right token then', async () => {
    t = makeTestApp();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      statuses.push(
        (await request(t.app).get('/api/overview').set('Authorization', 'Bearer wrong-token'))
          .status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    const locked = await request(t.app)
      .get('/api/overview')
      .set('Authorization', `Bearer ${t.config.admin.token}`);
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('too_many_attempts');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The sign-in form shares the throttle.
    const form = await request(t.app).post('/api/session').send({ token: t.config.admin.token });
    expect(form.status).toBe(429);
  });
});

describe('dashboard session', () => {
  it('trades the token for an HttpOnly, SameSite=Strict cookie that authenticates reads', async () => {
    t = makeTestApp();
    const { res, setCookie, cookie, csrf } = await signIn(t.app, t.config.admin.token);
    expect(res.body).toEqual({
      authenticated: true,
      via: 'session',
      csrf_token: expect.any(String),
      expires_at: expect.any(String),
    });
    expect(setCookie[0]).toMatch(/^hpa_admin=s%3A/);
    expect(setCookie[0]).toMatch(/; HttpOnly/);
    expect(setCookie[0]).toMatch(/; SameSite=Strict/);
    expect(setCookie[0]).toMatch(/; Path=\//);
    expect(setCookie[0]).not.toMatch(/; Secure/);
    expect(setCookie[0]).not.toContain(t.config.admin.token);
    const hours = (Date.parse(res.body.expires_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);

    const session = await request(t.app).get('/api/session').set('Cookie', cookie);
    expect(session.body).toEqual({ ...res.body, csrf_token: csrf });
    expect((await request(t.app).get('/api/overview').set('Cookie', cookie)).status).toBe(200);
  });

  it('marks the cookie Secure only from PUBLIC_URL or production, never from X-Forwarded-Proto', async () => {
    t = makeTestApp({ TRUST_PROXY: '1' });
    const spoofed = await request(t.app)
      .post('/api/session')
      .set('X-Forwarded-Proto', 'https')
      .send({ token: t.config.admin.token });
    expect((spoofed.headers['set-cookie'] as unknown as string[])[0]).not.toMatch(/; Secure/);
    await t.close();
    t = makeTestApp({ PUBLIC_URL: 'https://partner.example' });
    const res = await request(t.app).post('/api/session').send({ token: t.config.admin.token });
    expect((res.headers['set-cookie'] as unknown as string[])[0]).toMatch(
      /^__Host-hpa_admin=.*; Secure/,
    );
  });

  it('needs the CSRF header for writes made with the cookie', async () => {
    t = makeTestApp();
    const { cookie, csrf } = await signIn(t.app, t.config.admin.token);
    const url = '/api/connections/env-x/disconnect';
    const bare = await request(t.app).post(url).set('Cookie', cookie);
    expect(bare.status).toBe(403);
    expect(bare.body.error).toBe('csrf_token_invalid');
    const wrong = await request(t.app).post(url).set('Cookie', cookie).set('X-CSRF-Token', 'nope');
    expect(wrong.status).toBe(403);
    const other = await signIn(t.app, t.config.admin.token);
    const foreign = await request(t.app)
      .post(url)
      .set('Cookie', cookie)
      .set('X-CSRF-Token', other.csrf);
    expect(foreign.status).toBe(403);
    const ok = await request(t.app).post(url).set('Cookie', cookie).set('X-CSRF-Token', csrf);
    expect(ok.status).toBe(404); // authenticated: there is simply no such connection
    expect(ok.body.error).toBe('connection_not_found');
    // Bearer clients are not a browser: no CSRF header needed.
    const bearer = await request(t.app)
      .post(url)
      .set('Authorization', `Bearer ${t.config.admin.token}`);
    expect(bearer.status).toBe(404);
  });

  it('accepts only JSON sign-ins, so a cross-site form cannot sign a browser in', async () => {
    t = makeTestApp();
    const form = await request(t.app)
      .post('/api/session')
      .type('form')
      .send({ token: t.config.admin.token });
    expect(form.status).toBe(415);
    expect(form.headers['set-cookie']).toBeUndefined();
    const wrong = await request(t.app).post('/api/session').send({ token: 'not-it' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('signs out: the cookie is cleared and the session revoked', async () => {
    t = makeTestApp();
    const { cookie, csrf } = await signIn(t.app, t.config.admin.token);
    const out = await request(t.app)
      .delete('/api/session')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', csrf);
    expect(out.status).toBe(204);
    expect((out.headers['set-cookie'] as unknown as string[])[0]).toMatch(
      /^hpa_admin=;.*Expires=Thu, 01 Jan 1970/,
    );
    // The session is revoked in the store: a copy of the cookie no longer works.
    expect((await request(t.app).get('/api/overview').set('Cookie', cookie)).status).toBe(401);
  });

  it('ends every session when ADMIN_TOKEN changes, and refuses a tampered cookie', async () => {
    t = makeTestApp({ ADMIN_TOKEN: 'first-admin-token-0123456789' });
    const { cookie } = await signIn(t.app, 'first-admin-token-0123456789');
    const rotated = makeTestApp(
      { ADMIN_TOKEN: 'second-admin-token-0123456789' },
      t.dataDir, // same data dir: same generated session secret, same database
    );
    try {
      expect((await request(rotated.app).get('/api/overview').set('Cookie', cookie)).status).toBe(
        401,
      );
      expect((await request(t.app).get('/api/overview').set('Cookie', cookie)).status).toBe(200);
      const tampered = cookie.replace(/\.(\d+)\./, (_, ms: string) => `.${Number(ms) + 1}.`);
      expect(tampered).not.toBe(cookie);
      expect((await request(t.app).get('/api/overview').set('Cookie', tampered)).status).toBe(401);
    } finally {
      await rotated.store.close();
    }
  });

  it('is unavailable in production without SESSION_SECRET, while the bearer token works', async () => {
    t = makeTestApp({ NODE_ENV: 'production', ADMIN_TOKEN: 'production-admin-token-0123' });
    expect(t.config.warnings.join()).toContain(
      'Dashboard sign-in is disabled until SESSION_SECRET',
    );
    const res = await request(t.app)
      .post('/api/session')
      .send({ token: 'production-admin-token-0123' });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('sessions_unavailable');
    const api = await request(t.app)
      .get('/api/overview')
      .set('Authorization', 'Bearer production-admin-token-0123');
    expect(api.status).toBe(200);
  });
});
