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
import type { AdminConfig } from '../../src/config';

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
    sessionTtlMs: 3_600_000,
  };

  it('signs in with a one-click code exactly once', () => {
    const access = new AdminAccess(admin, keys.secret);
    const code = access.issueLoginCode();
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const first = access.signIn({ code }, 'c');
    expect(first.ok).toBe(true);
    expect(access.signIn({ code }, 'c')).toEqual({ ok: false, reason: 'invalid_credentials' });
    if (first.ok) expect(access.readSession(first.cookieValue)).toEqual(first.session);
  });

  it('keeps only the latest few unused codes', () => {
    const access = new AdminAccess(admin, keys.secret);
    const codes = [...Array(9).keys()].map(() => access.issueLoginCode());
    expect(access.signIn({ code: codes[0] }, 'c').ok).toBe(false);
    expect(access.signIn({ code: codes[8] }, 'c').ok).toBe(true);
  });

  it('refuses sessions without a session secret but still checks bearer tokens', () => {
    const access = new AdminAccess(admin, '');
    expect(access.sessionsEnabled).toBe(false);
    expect(access.signIn({ token: keys.adminToken }, 'c')).toEqual({
      ok: false,
      reason: 'sessions_unavailable',
    });
    expect(access.checkToken(keys.adminToken, 'c')).toEqual({ ok: true });
  });

  it('locks a client out after repeated failures, by the clock it is given', () => {
    let now = 0;
    const access = new AdminAccess(admin, keys.secret, { now: () => now });
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
