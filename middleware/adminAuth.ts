// Admin authentication for Express: a bearer token, or the dashboard's session cookie plus CSRF on writes.
import type { Request, RequestHandler, Response } from 'express';
import type { AdminAccess, CredentialFailure } from '../src/admin/access';
import type { AdminSession } from '../src/admin/credentials';
import { clientKey } from '../src/admin/loginThrottle';
import { sendError } from './errors';

export const CSRF_HEADER = 'X-CSRF-Token';

export type AdminIdentity = { via: 'bearer' } | { via: 'session'; session: AdminSession };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The key the login throttle counts a request's failures under. */
export function throttleKey(req: Request): string {
  return clientKey(req.ip);
}

export function sendUnauthorized(res: Response, error: string, message: string): void {
  res.setHeader('WWW-Authenticate', 'Bearer realm="heap-partner-api admin"');
  sendError(res, 401, error, message);
}

/** 401 for a wrong credential, 429 with Retry-After while the client is locked out. */
export function sendCredentialFailure(res: Response, failure: CredentialFailure): void {
  if (failure.reason === 'too_many_attempts') {
    res.setHeader('Retry-After', String(Math.ceil(failure.retryAfterMs / 1000)));
    sendError(
      res,
      429,
      'too_many_attempts',
      'Too many wrong admin tokens (from this address, or from everywhere at once); wait for Retry-After seconds before trying again.',
    );
    return;
  }
  sendUnauthorized(res, 'invalid_credentials', 'The admin token is not valid.');
}

export function adminIdentity(res: Response): AdminIdentity {
  return res.locals.admin as AdminIdentity;
}

/** Lets a request through only with valid admin credentials; sets res.locals.admin. */
export function requireAdmin(access: AdminAccess): RequestHandler {
  return async (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    const authorization = req.get('authorization');
    if (authorization !== undefined) {
      const bearer = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!bearer) {
        sendUnauthorized(res, 'invalid_credentials', 'Send Authorization: Bearer <ADMIN_TOKEN>.');
        return;
      }
      const result = access.checkToken(bearer[1], throttleKey(req), req.ip);
      if (!result.ok) {
        // The audit entry is written before the answer, so the log is in the order of events.
        if (result.reason === 'invalid_credentials') await result.audited;
        sendCredentialFailure(res, result);
        return;
      }
      res.locals.admin = { via: 'bearer' } satisfies AdminIdentity;
      next();
      return;
    }
    const cookies = req.signedCookies as Record<string, unknown> | undefined;
    const session = await access.readSession(cookies?.[access.cookie.name]);
    if (!session) {
      sendUnauthorized(
        res,
        'authentication_required',
        'Sign in to the dashboard, or send Authorization: Bearer <ADMIN_TOKEN>.',
      );
      return;
    }
    // A cookie is sent by the browser on its own; a write must also prove it came from our page.
    if (!SAFE_METHODS.has(req.method) && !access.csrfValid(session, req.get(CSRF_HEADER))) {
      sendError(
        res,
        403,
        'csrf_token_invalid',
        `Requests that change something need the ${CSRF_HEADER} header from GET /api/session.`,
      );
      return;
    }
    res.locals.admin = { via: 'session', session } satisfies AdminIdentity;
    next();
  };
}
