// Admin access, framework-free: checks the token (throttled), signs in with it or a one-click code, reads sessions.
import { createHash, randomBytes } from 'node:crypto';
import type { AdminConfig } from '../config';
import {
  csrfTokenFor,
  csrfTokenValid,
  decodeSession,
  encodeSession,
  newSession,
  tokensEqual,
  type AdminSession,
} from './credentials';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottleOptions } from './loginThrottle';

export type CredentialFailure =
  | { ok: false; reason: 'invalid_credentials' }
  | { ok: false; reason: 'too_many_attempts'; retryAfterMs: number };

export type SignInResult =
  | { ok: true; cookieValue: string; session: AdminSession; csrfToken: string }
  | CredentialFailure
  | { ok: false; reason: 'sessions_unavailable' };

/** One-click sign-in codes outstanding at once (each start of the server prints one). */
const MAX_LOGIN_CODES = 8;

export class AdminAccess {
  private readonly throttle: LoginThrottle;
  private readonly now: () => number;
  /** sha256 of each unused one-click code, oldest first. */
  private readonly loginCodes = new Set<string>();

  constructor(
    private readonly admin: AdminConfig,
    private readonly sessionSecret: string,
    options: { throttle?: ThrottleOptions; now?: () => number } = {},
  ) {
    this.throttle = new LoginThrottle(options.throttle ?? DEFAULT_THROTTLE);
    this.now = options.now ?? Date.now;
  }

  /** Cookie sessions need the session secret (production may run the API alone without it). */
  get sessionsEnabled(): boolean {
    return this.sessionSecret !== '';
  }

  /** A bearer token from an API client: throttled per client, compared in constant time. */
  checkToken(presented: string, client: string): { ok: true } | CredentialFailure {
    const now = this.now();
    const verdict = this.throttle.check(client, now);
    if (!verdict.allowed) {
      return { ok: false, reason: 'too_many_attempts', retryAfterMs: verdict.retryAfterMs };
    }
    if (tokensEqual(presented, this.admin.token)) {
      this.throttle.succeed(client);
      return { ok: true };
    }
    this.throttle.fail(client, now);
    return { ok: false, reason: 'invalid_credentials' };
  }

  /** The dashboard's sign-in: the admin token, or a one-click code, in exchange for a session. */
  signIn(credential: { token?: string; code?: string }, client: string): SignInResult {
    if (!this.sessionsEnabled) return { ok: false, reason: 'sessions_unavailable' };
    const now = this.now();
    const verdict = this.throttle.check(client, now);
    if (!verdict.allowed) {
      return { ok: false, reason: 'too_many_attempts', retryAfterMs: verdict.retryAfterMs };
    }
    const valid =
      credential.token !== undefined
        ? tokensEqual(credential.token, this.admin.token)
        : credential.code !== undefined && this.redeemLoginCode(credential.code);
    if (!valid) {
      this.throttle.fail(client, now);
      return { ok: false, reason: 'invalid_credentials' };
    }
    this.throttle.succeed(client);
    const session = newSession(now, this.admin.sessionTtlMs);
    return {
      ok: true,
      session,
      cookieValue: encodeSession(session, this.keys()),
      csrfToken: csrfTokenFor(session, this.sessionSecret),
    };
  }

  /** The session in a signed cookie's value, if it is still valid. */
  readSession(cookieValue: unknown): AdminSession | undefined {
    if (!this.sessionsEnabled) return undefined;
    return decodeSession(cookieValue, this.keys(), this.now());
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
    this.loginCodes.add(hashCode(code));
    while (this.loginCodes.size > MAX_LOGIN_CODES) {
      this.loginCodes.delete(this.loginCodes.values().next().value as string);
    }
    return code;
  }

  private redeemLoginCode(code: string): boolean {
    return this.loginCodes.delete(hashCode(code));
  }

  private keys() {
    return { secret: this.sessionSecret, adminToken: this.admin.token };
  }
}

function hashCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}
