// Admin credentials: constant-time token checks, session values, CSRF tokens, one-click codes, the throttle.
import { AdminAccess } from '../../src/admin/access';
import {
  csrfTokenFor,
  csrfTokenValid,
  decodeSession,
  encodeSession,
  newSession,
  tokensEqual,
} from '../../src/admin/credentials';
import { clientKey, LoginThrottle } from '../../src/admin/loginThrottle';
import type { AdminConfig } from '../../src/config/index';
import { MemoryAdminSessions } from '../support/memoryAdminSessions';

const keys = { secret: 'session-secret', adminToken: 'admin-token-0123456789' };

describe('tokensEqual', () => {
  it('matches only the exact token, whatever the lengths, and never an empty expectation', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('ab', 'abc')).toBe(false);
    expect(tokensEqual('abc'.repeat(1000), 'abc')).toBe(false);
    expect(tokensEqual('', '')).toBe(false);
  });
});

describe('session values', () => {
  it('round-trip while current, and fail when expired, altered or after the token changes', () => {
    const session = newSession(1000, 60_000);
    const value = encodeSession(session, keys);
    expect(decodeSession(value, keys, 2000)).toEqual(session);
    expect(decodeSession(value, keys, 61_000)).toBeUndefined();
    expect(decodeSession(value.replace('.61000.', '.99999.'), keys, 2000)).toBeUndefined();
    expect(
      decodeSession(value, { ...keys, adminToken: 'rotated-token-0123456' }, 2000),
    ).toBeUndefined();
    expect(decodeSession(value, { ...keys, secret: 'other-secret' }, 2000)).toBeUndefined();
    for (const junk of [undefined, false, 42, '', 'a.b.c', `${value}x`]) {
      expect(decodeSession(junk, keys, 2000)).toBeUndefined();
    }
  });

  it('have unguessable ids and CSRF tokens bound to the session', () => {
    const a = newSession(0, 1);
    const b = newSession(0, 1);
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(csrfTokenValid(a, 's', csrfTokenFor(a, 's'))).toBe(true);
    expect(csrfTokenValid(a, 's', csrfTokenFor(b, 's'))).toBe(false);
    expect(csrfTokenValid(a, 's', csrfTokenFor(a, 'other'))).toBe(false);
    expect(csrfTokenValid(a, 's', undefined)).toBe(false);
  });
});

describe('AdminAccess', () => {
  const admin: AdminConfig = {
    token: keys.adminToken,
    tokenSource: 'env',
    sessionTtlMs: 12 * 3_600_000,
    sessionIdleMs: 60 * 60_000,
    loginFailuresPerMinute: 30,
  };
  const accessWith = (options: { now?: () => number; sessions?: MemoryAdminSessions } = {}) =>
    new AdminAccess(admin, keys.secret, {
      sessions: options.sessions ?? new MemoryAdminSessions(),
      secureCookies: false,
      now: options.now,
    });

  it('signs in with a one-click code exactly once', async () => {
    const access = accessWith();
    const code = access.issueLoginCode();
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const first = await access.signIn({ code }, 'c');
    expect(first.ok).toBe(true);
    expect(await access.signIn({ code }, 'c')).toEqual({
      ok: false,
      reason: 'invalid_credentials',
    });
    if (first.ok) expect(await access.readSession(first.cookieValue)).toEqual(first.session);
  });

  it('refuses a one-click code 15 minutes after it was issued', async () => {
    let now = 1_000_000;
    const access = accessWith({ now: () => now });
    const fresh = access.issueLoginCode();
    const stale = access.issueLoginCode();
    now += 15 * 60_000 - 1;
    expect((await access.signIn({ code: fresh }, 'c')).ok).toBe(true);
    now += 1;
    expect(await access.signIn({ code: stale }, 'c')).toEqual({
      ok: false,
      reason: 'invalid_credentials',
    });
  });

  it('keeps only the latest few unused codes', async () => {
    const access = accessWith();
    const codes = [...Array(9).keys()].map(() => access.issueLoginCode());
    expect((await access.signIn({ code: codes[0] }, 'c')).ok).toBe(false);
    expect((await access.signIn({ code: codes[8] }, 'c')).ok).toBe(true);
  });

  it('refuses a session after sign-out, even from a copy of its cookie', async () => {
    const sessions = new MemoryAdminSessions();
    const access = accessWith({ sessions });
    const signedIn = await access.signIn({ token: keys.adminToken }, 'c');
    if (!signedIn.ok) throw new Error('sign-in failed');
    const session = await access.readSession(signedIn.cookieValue);
    expect(session).toEqual(signedIn.session);
    await access.signOut(signedIn.session);
    expect(await access.readSession(signedIn.cookieValue)).toBeUndefined();
    // The store keeps a hash, never the id a cookie carries.
    expect([...sessions.rows.keys()].join()).not.toContain(signedIn.session.id);
  });

  it('ends an idle session, and writes last-seen at most once a minute', async () => {
    let now = 1_000_000;
    const sessions = new MemoryAdminSessions();
    const access = accessWith({ now: () => now, sessions });
    const signedIn = await access.signIn({ token: keys.adminToken }, 'c');
    if (!signedIn.ok) throw new Error('sign-in failed');
    for (let i = 0; i < 100; i++) {
      now += 1000;
      expect(await access.readSession(signedIn.cookieValue)).toBeDefined();
    }
    expect(sessions.touches).toBe(1);
    // Last seen at +60 s, now at +100 s: 3 600 s later is exactly the idle limit, still valid.
    now += 60 * 60_000 - 40_000;
    expect(await access.readSession(signedIn.cookieValue)).toBeDefined();
    now += 60 * 60_000 + 1;
    expect(await access.readSession(signedIn.cookieValue)).toBeUndefined();
  });

  it('names the cookie __Host- only when it is Secure', () => {
    const secure = new AdminAccess(admin, keys.secret, {
      sessions: new MemoryAdminSessions(),
      secureCookies: true,
    });
    expect(secure.cookie).toEqual({ name: '__Host-hpa_admin', secure: true });
    expect(accessWith().cookie).toEqual({ name: 'hpa_admin', secure: false });
  });

  it('refuses sessions without a session secret but still checks bearer tokens', async () => {
    const access = new AdminAccess(admin, '', {
      sessions: new MemoryAdminSessions(),
      secureCookies: false,
    });
    expect(access.sessionsEnabled).toBe(false);
    expect(await access.signIn({ token: keys.adminToken }, 'c')).toEqual({
      ok: false,
      reason: 'sessions_unavailable',
    });
    expect(access.checkToken(keys.adminToken, 'c')).toEqual({ ok: true });
  });

  it('locks a client out after repeated failures, by the clock it is given', () => {
    let now = 0;
    const access = accessWith({ now: () => now });
    for (let i = 0; i < 5; i += 1) expect(access.checkToken('wrong', 'c').ok).toBe(false);
    expect(access.checkToken('wrong', 'c')).toEqual({ ok: false, reason: 'invalid_credentials' });
    expect(access.checkToken(keys.adminToken, 'c')).toEqual({
      ok: false,
      reason: 'too_many_attempts',
      retryAfterMs: 1000,
    });
    expect(access.checkToken(keys.adminToken, 'other-client')).toEqual({ ok: true });
    now = 1000;
    expect(access.checkToken(keys.adminToken, 'c')).toEqual({ ok: true });
  });
});

describe('LoginThrottle', () => {
  const options = {
    freeFailures: 2,
    baseLockoutMs: 100,
    maxLockoutMs: 1000,
    maxClients: 3,
    forgetAfterMs: 10_000,
    globalFailures: 1000,
    globalWindowMs: 60_000,
  };

  it('doubles the lockout with each failure past the free ones, up to the maximum', () => {
    const throttle = new LoginThrottle(options);
    const lockouts = [...Array(8).keys()].map((i) => throttle.fail('c', i * 10_000 - 1));
    expect(lockouts).toEqual([0, 0, 100, 200, 400, 800, 1000, 1000]);
  });

  it('refuses while locked, allows after, and forgets on success or after a quiet hour', () => {
    const throttle = new LoginThrottle(options);
    for (let i = 0; i < 3; i += 1) throttle.fail('c', 0);
    expect(throttle.check('c', 50)).toEqual({ allowed: false, retryAfterMs: 50 });
    expect(throttle.check('c', 100)).toEqual({ allowed: true });
    throttle.succeed('c');
    expect(throttle.fail('c', 200)).toBe(0);
    for (let i = 0; i < 5; i += 1) throttle.fail('d', 0);
    expect(throttle.check('d', 10_001)).toEqual({ allowed: true });
    expect(throttle.fail('d', 10_002)).toBe(0);
  });

  it('remembers at most maxClients, forgetting the least recently failing', () => {
    const throttle = new LoginThrottle(options);
    for (const client of ['a', 'b', 'c', 'd', 'e']) {
      for (let i = 0; i < 3; i += 1) throttle.fail(client, 0);
    }
    expect(throttle.size).toBe(3);
    expect(throttle.check('a', 1)).toEqual({ allowed: true });
    expect(throttle.check('e', 1).allowed).toBe(false);
  });

  it('holds every client to a global failure budget, except clients that signed in before', () => {
    const throttle = new LoginThrottle({ ...options, globalFailures: 4, globalWindowMs: 60_000 });
    throttle.succeed('admin');
    for (const client of ['a', 'b', 'c', 'd']) {
      expect(throttle.check(client, 1000)).toEqual({ allowed: true });
      throttle.fail(client, 1000);
    }
    // A fifth address, never seen: the budget is spent, so it waits for the window.
    expect(throttle.check('fresh', 2000)).toEqual({ allowed: false, retryAfterMs: 59_000 });
    expect(throttle.check('admin', 2000)).toEqual({ allowed: true });
    expect(throttle.check('fresh', 61_000)).toEqual({ allowed: true });
  });

  it('keys IPv4 by address and IPv6 by /64', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('fe80::1:2:3:4:5')).toBe('fe80:0:0:1::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
