// Admin access, framework-free: checks the token (throttled), signs in with it or a one-click code, reads and revokes sessions.
import { createHash, randomBytes } from 'node:crypto';
import type { AdminConfig } from '../config/index';
import type { ConnectionStore } from '../store/types';
import {
  csrfTokenFor,
  csrfTokenValid,
  decodeSession,
  encodeSession,
  newSession,
  tokenMatcher,
  type AdminSession,
} from './credentials';
import type { AdminAudit } from './audit';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottleOptions } from './loginThrottle';

export type CredentialFailure =
  | {
      ok: false;
      reason: 'invalid_credentials';
      /** Settles once the failure is in the audit log (never rejects); await it before answering. */
      audited?: Promise<void>;
    }
  | { ok: false; reason: 'too_many_attempts'; retryAfterMs: number };

export type SignInResult =
  | { ok: true; cookieValue: string; session: AdminSession; csrfToken: string }
  | CredentialFailure
  | { ok: false; reason: 'sessions_unavailable' };

/** Where sessions live: the shared store, so every instance sees a sign-out at once. */
export type AdminSessionStore = Pick<
  ConnectionStore,
  'createAdminSession' | 'getAdminSession' | 'touchAdminSession' | 'revokeAdminSession'
>;

/** One-click sign-in codes outstanding at once (each start of the server prints one). */
const MAX_LOGIN_CODES = 8;
/** A one-click link left in a terminal's scrollback or a log stops working after this. */
export const LOGIN_CODE_TTL_MS = 15 * 60 * 1000;
/**
 * last_seen_at is written at most this often per session: one write a minute instead of one
 * per request, at the price of an idle timeout that is up to a minute generous.
 */
export const SESSION_TOUCH_INTERVAL_MS = 60 * 1000;

/**
 * The session cookie's name and Secure flag. Secure follows the public origin (https) or
 * production, never req.secure, which depends on proxy headers. A Secure cookie gets the
 * __Host- prefix: browsers then insist on Secure, Path=/ and no Domain, so neither a sibling
 * subdomain nor a plain-http page can set or shadow it.
 */
export type SessionCookie = { name: string; secure: boolean };

export function sessionCookie(secure: boolean): SessionCookie {
  return { name: secure ? '__Host-hpa_admin' : 'hpa_admin', secure };
}

export class AdminAccess {
  readonly cookie: SessionCookie;
  private readonly throttle: LoginThrottle;
  private readonly now: () => number;
  private readonly sessions: AdminSessionStore;
  /** When each unused one-click code (by its sha256) was issued, oldest first. */
  private readonly loginCodes = new Map<string, number>();
  /** The admin audit log: sign-ins, their failures, sign-outs. */
  private readonly audit: AdminAudit | undefined;
  /** Compares a presented token with ADMIN_TOKEN in constant time. */
  private readonly isAdminToken: (presented: string) => boolean;

  constructor(
    private readonly admin: AdminConfig,
    private readonly sessionSecret: string,
    options: {
      sessions: AdminSessionStore;
      secureCookies: boolean;
      throttle?: ThrottleOptions;
      now?: () => number;
      audit?: AdminAudit;
    },
  ) {
    this.audit = options.audit;
    this.cookie = sessionCookie(options.secureCookies);
    this.throttle = new LoginThrottle(
      options.throttle ?? { ...DEFAULT_THROTTLE, globalFailures: admin.loginFailuresPerMinute },
    );
    this.now = options.now ?? Date.now;
    this.sessions = options.sessions;
    this.isAdminToken = tokenMatcher(admin.token);
  }

  /** Cookie sessions need the session secret (production may run the API alone without it). */
  get sessionsEnabled(): boolean {
    return this.sessionSecret !== '';
  }

  /**
   * A bearer token from an API client: throttled per client, compared in constant time. A wrong
   * one is audited (by `address`, the client address as Express derived it); a success is not,
   * since every API call carries the token.
   */
  checkToken(
    presented: string,
    client: string,
    address?: string,
  ): { ok: true } | CredentialFailure {
    const now = this.now();
    const verdict = this.throttle.check(client, now);
    if (!verdict.allowed) {
      this.audit?.count('sign_in_failed', { reason: 'too_many_attempts', via: 'bearer' });
      return { ok: false, reason: 'too_many_attempts', retryAfterMs: verdict.retryAfterMs };
    }
    if (this.isAdminToken(presented)) {
      this.throttle.succeed(client);
      return { ok: true };
    }
    this.throttle.fail(client, now);
    const audited = this.audit?.recordQuietly('sign_in_failed', {
      client: address ?? null,
      detail: { reason: 'invalid_credentials', via: 'bearer' },
    });
    return { ok: false, reason: 'invalid_credentials', audited };
  }

  /** The dashboard's sign-in: the admin token, or a one-click code, in exchange for a session. */
  async signIn(
    credential: { token?: string; code?: string },
    client: string,
    address?: string,
  ): Promise<SignInResult> {
    if (!this.sessionsEnabled) return { ok: false, reason: 'sessions_unavailable' };
    const now = this.now();
    const via = credential.token !== undefined ? 'token' : 'login_link';
    const verdict = this.throttle.check(client, now);
    if (!verdict.allowed) {
      // Beyond the failure budget: counted per minute, never a row per attempt (a flood from
      // the network must not grow the table with every request).
      this.audit?.count('sign_in_failed', { reason: 'too_many_attempts', via });
      return { ok: false, reason: 'too_many_attempts', retryAfterMs: verdict.retryAfterMs };
    }
    const valid =
      credential.token !== undefined
        ? this.isAdminToken(credential.token)
        : credential.code !== undefined && this.redeemLoginCode(credential.code, now);
    if (!valid) {
      this.throttle.fail(client, now);
      // Within the budget (the throttle checked it): one row, the address and the reason, never
      // what was presented.
      await this.audit?.recordQuietly('sign_in_failed', {
        client: address ?? null,
        detail: { reason: 'invalid_credentials', via },
      });
      return { ok: false, reason: 'invalid_credentials' };
    }
    this.throttle.succeed(client);
    const session = newSession(now, this.admin.sessionTtlMs);
    await this.sessions.createAdminSession(hashCode(session.id), now, session.expiresAt);
    await this.audit?.record('sign_in', { client: address ?? null, detail: { via } });
    return {
      ok: true,
      session,
      cookieValue: encodeSession(session, this.keys()),
      csrfToken: csrfTokenFor(session, this.sessionSecret),
    };
  }

  /**
   * The session in a signed cookie's value, if it is still valid: well formed, unexpired, not
   * signed out and used within the idle timeout. A valid session counts as used now.
   */
  async readSession(cookieValue: unknown): Promise<AdminSession | undefined> {
    if (!this.sessionsEnabled) return undefined;
    const now = this.now();
    const session = decodeSession(cookieValue, this.keys(), now);
    if (!session) return undefined;
    const idHash = hashCode(session.id);
    const record = await this.sessions.getAdminSession(idHash);
    if (
      !record ||
      record.revokedAt !== null ||
      record.expiresAt <= now ||
      now - record.lastSeenAt > this.admin.sessionIdleMs
    ) {
      return undefined;
    }
    if (now - record.lastSeenAt >= SESSION_TOUCH_INTERVAL_MS) {
      await this.sessions.touchAdminSession(idHash, now);
    }
    return session;
  }

  /** Signs a session out everywhere: its cookie, wherever it was copied to, is refused from now on. */
  async signOut(session: AdminSession, address?: string): Promise<void> {
    const revoked = await this.sessions.revokeAdminSession(hashCode(session.id), this.now());
    if (revoked) await this.audit?.recordQuietly('sign_out', { client: address ?? null });
  }

  csrfToken(session: AdminSession): string {
    return csrfTokenFor(session, this.sessionSecret);
  }

  csrfValid(session: AdminSession, presented: string | undefined): boolean {
    return csrfTokenValid(session, this.sessionSecret, presented);
  }

  /**
   * A single-use code for the startup banner's one-click sign-in link. Only its hash is kept, and
   * once used the link in the browser's history is worthless.
   */
  issueLoginCode(): string {
    const code = randomBytes(32).toString('base64url');
    this.loginCodes.set(hashCode(code), this.now());
    while (this.loginCodes.size > MAX_LOGIN_CODES) {
      this.loginCodes.delete(this.loginCodes.keys().next().value as string);
    }
    return code;
  }

  private redeemLoginCode(code: string, now: number): boolean {
    const hash = hashCode(code);
    const issuedAt = this.loginCodes.get(hash);
    if (issuedAt === undefined) return false;
    this.loginCodes.delete(hash);
    return now - issuedAt < LOGIN_CODE_TTL_MS;
  }

  private keys() {
    return { secret: this.sessionSecret, adminToken: this.admin.token };
  }
}

/** sha256 hex: what is kept of one-click codes and session ids, never the values themselves. */
function hashCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}
