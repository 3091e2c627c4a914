// The dashboard's sign-in: exchange the admin token (or a one-click code) for a session cookie; sign out.
import express, { Router, type Response } from 'express';
import type { Logger } from 'pino';
import {
  ADMIN_SESSION_COOKIE,
  adminIdentity,
  requireAdmin,
  sendCredentialFailure,
  sendUnauthorized,
  throttleKey,
} from '../middleware/adminAuth';
import { methodNotAllowed, sendError } from '../middleware/errors';
import type { AdminAccess } from '../src/admin/access';
import { isoTime } from '../src/admin/views';

export const SESSION_PATH = '/api/session';

function credentialField(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === 'string' && value !== '' && value.length <= 4096 ? value : undefined;
}

export function adminSessionRouter({
  access,
  logger,
}: {
  access: AdminAccess;
  logger: Logger;
}): Router {
  const router = Router();
  const cookieOptions = (secure: boolean) =>
    ({ httpOnly: true, sameSite: 'strict', secure, path: '/' }) as const;

  const noStore = (res: Response) => res.setHeader('Cache-Control', 'no-store');

  router.post(
    SESSION_PATH,
    (req, res, next) => {
      noStore(res);
      // Only JSON: a cross-site HTML form cannot send it, so it cannot sign a browser in.
      if (!/^application\/json\s*(;|$)/i.test(req.get('content-type') ?? '')) {
        sendError(res, 415, 'unsupported_media_type', 'Send {"token": "…"} as application/json.');
        return;
      }
      next();
    },
    express.json({ limit: '8kb' }),
    (req, res) => {
      const token = credentialField(req.body, 'token');
      const code = token === undefined ? credentialField(req.body, 'code') : undefined;
      if (token === undefined && code === undefined) {
        sendUnauthorized(res, 'invalid_credentials', 'Send {"token": "<ADMIN_TOKEN>"}.');
        return;
      }
      const result = access.signIn({ token, code }, throttleKey(req));
      if (!result.ok) {
        if (result.reason === 'sessions_unavailable') {
          sendError(
            res,
            503,
            'sessions_unavailable',
            'Dashboard sign-in needs SESSION_SECRET; the API accepts the admin token as a bearer token.',
          );
          return;
        }
        logger.info({ reason: result.reason }, 'admin sign-in refused');
        sendCredentialFailure(res, result);
        return;
      }
      res.cookie(ADMIN_SESSION_COOKIE, result.cookieValue, {
        ...cookieOptions(req.secure),
        signed: true,
        expires: new Date(result.session.expiresAt),
      });
      logger.info({ via: token === undefined ? 'login_link' : 'token' }, 'admin signed in');
      res.json({
        authenticated: true,
        via: 'session',
        csrf_token: result.csrfToken,
        expires_at: isoTime(result.session.expiresAt),
      });
    },
  );

  router.get(SESSION_PATH, requireAdmin(access), (_req, res) => {
    const identity = adminIdentity(res);
    if (identity.via === 'bearer') {
      res.json({ authenticated: true, via: 'bearer' });
      return;
    }
    res.json({
      authenticated: true,
      via: 'session',
      csrf_token: access.csrfToken(identity.session),
      expires_at: isoTime(identity.session.expiresAt),
    });
  });

  router.delete(SESSION_PATH, requireAdmin(access), (req, res) => {
    res.clearCookie(ADMIN_SESSION_COOKIE, cookieOptions(req.secure));
    res.status(204).end();
  });

  router.all(SESSION_PATH, methodNotAllowed(['GET', 'POST', 'DELETE']));
  return router;
}
