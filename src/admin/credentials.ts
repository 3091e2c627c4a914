// Pure admin credential checks: constant-time token comparison, session values bound to the token, CSRF tokens.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type AdminSession = { id: string; expiresAt: number };

/** Constant-time whatever the lengths: both sides are hashed to 32 bytes first. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && expected !== '';
}

/**
 * tokensEqual against one fixed secret, its hash taken once: the admin token is checked on every
 * API call, and hashing it again each time was half of that check's cost.
 */
export function tokenMatcher(expected: string): (presented: string) => boolean {
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return (presented) =>
    timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), b) && expected !== '';
}

function mac(secret: string, purpose: string, value: string): string {
  return createHmac('sha256', secret).update(`${purpose}\0${value}`).digest('base64url');
}

/**
 * A session cookie's value: `<id>.<expires ms>.<mac>`, the MAC covering the id, the expiry and
 * ADMIN_TOKEN. So the value cannot be altered (the cookie is also signed by cookie-parser), and
 * changing ADMIN_TOKEN ends every session: rotating the token is also "sign everyone out".
 */
export function encodeSession(
  session: AdminSession,
  keys: { secret: string; adminToken: string },
): string {
  const body = `${session.id}.${session.expiresAt}`;
  return `${body}.${mac(keys.secret, 'admin-session', `${body}\0${keys.adminToken}`).slice(0, 22)}`;
}

export function newSession(now: number, ttlMs: number): AdminSession {
  return { id: randomBytes(18).toString('base64url'), expiresAt: now + ttlMs };
}

/** The session in a (signature-checked) cookie value, if it is well formed, current and unexpired. */
export function decodeSession(
  value: unknown,
  keys: { secret: string; adminToken: string },
  now: number,
): AdminSession | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^([A-Za-z0-9_-]{24})\.(\d{1,15})\.([A-Za-z0-9_-]{22})$/.exec(value);
  if (!match) return undefined;
  const session = { id: match[1], expiresAt: Number(match[2]) };
  if (session.expiresAt <= now) return undefined;
  if (!tokensEqual(value, encodeSession(session, keys))) return undefined;
  return session;
}

/** The CSRF token of a session: derived, so nothing is stored, and useless without the cookie. */
export function csrfTokenFor(session: AdminSession, secret: string): string {
  return mac(secret, 'csrf', session.id);
}

export function csrfTokenValid(
  session: AdminSession,
  secret: string,
  presented: string | undefined,
): boolean {
  return presented !== undefined && tokensEqual(presented, csrfTokenFor(session, secret));
}
