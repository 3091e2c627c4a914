// The dashboard's sign-in: exchange the admin token (or a one-click code) for a session cookie; sign out.
import express, { Router, type Response } from 'express';
import type { Logger } from 'pino';
import {
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
  // Path=/ and no Domain: what the __Host- prefix requires when the cookie is Secure.
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'strict',
    secure: access.cookie.secure,
    path: '/',
  } as const;

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
    async (req, res) => {
      const token = credentialField(req.body, 'token');
      const code = token === undefined ? credentialField(req.body, 'code') : undefined;
      if (token === undefined && code === undefined) {
        sendUnauthorized(res, 'invalid_credentials', 'Send {"token": "<ADMIN_TOKEN>"}.');
        return;
      }
      const result = await access.signIn({ token, code }, throttleKey(req), req.ip);
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
      res.cookie(access.cookie.name, result.cookieValue, {
        ...cookieOptions,
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

  // Signing out revokes the session in the store, so a copy of the cookie is refused too.
  router.delete(SESSION_PATH, requireAdmin(access), async (req, res) => {
    const identity = adminIdentity(res);
    if (identity.via === 'session') {
      await access.signOut(identity.session, req.ip);
      logger.info('admin signed out');
    }
    res.clearCookie(access.cookie.name, cookieOptions);
    res.status(204).end();
  });

  router.all(SESSION_PATH, methodNotAllowed(['GET', 'POST', 'DELETE']));
  return router;
}
