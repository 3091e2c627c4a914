// OAuth2 routes: start the authorization with Heap and handle Heap's redirect back.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { methodNotAllowed } from '../middleware/errors';
import type { Config } from '../src/config/index';
import { beginAuthorization, completeAuthorization, STATE_TTL_MS } from '../src/oauth/flow';
import {
  badCallbackPage,
  connectedPage,
  heapFailurePage,
  heapRefusedPage,
  oauthUnavailablePage,
  tooManyAuthorizationsPage,
  type RenderedPage,
} from '../src/pages/oauthPages';
import { sandboxEndpointsFor } from '../src/server/sandbox';
import { tenantLabel } from '../src/webhook/apply';
import type { ConnectionStore } from '../src/store/types';

export const STATE_COOKIE = 'hpa_oauth_state';

export type AuthorizationDeps = {
  config: Config;
  store: ConnectionStore;
  logger: Logger;
  /** Link shown after connecting in the sandbox. */
  hubUrl?: string;
};

function send(res: Response, page: RenderedPage): void {
  res.status(page.status).type('html').setHeader('Cache-Control', 'no-store').send(page.html);
}

function queryValue(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function authorizationRouter({ config, store, logger, hubUrl }: AuthorizationDeps): Router {
  const router = Router();
  const oauth = config.oauth;

  let capWarnedAt = -Infinity;

  const authorize: RequestHandler = async (req, res) => {
    if (!oauth.enabled) {
      send(res, oauthUnavailablePage());
      return;
    }
    const begun = await beginAuthorization(store, oauth, {
      maxPending: config.oauthMaxPendingStates,
      endpoints: sandboxEndpointsFor(req, config),
    });
    if (!begun.ok) {
      // Anyone can trigger this, so it is logged once a minute at most, not once a request.
      if (Date.now() - capWarnedAt >= 60_000) {
        capWarnedAt = Date.now();
        logger.warn(
          { max: config.oauthMaxPendingStates },
          'OAuth: too many authorizations in progress (OAUTH_MAX_PENDING_STATES); refusing new ones for now',
        );
      }
      res.setHeader('Retry-After', '60');
      send(res, tooManyAuthorizationsPage());
      return;
    }
    const { state, url } = begun;
    res.cookie(STATE_COOKIE, state, {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      // From the public origin, not req.secure (which trusts proxy headers): see config.
      secure: config.secureCookies,
      maxAge: STATE_TTL_MS,
      path: '/api',
    });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, url);
  };

  const callback: RequestHandler = async (req, res) => {
    if (!oauth.enabled || !config.tokenEncryptionKey) {
      send(res, oauthUnavailablePage());
      return;
    }
    const signed = (req.signedCookies as Record<string, unknown>)[STATE_COOKIE];
    const cookieState = typeof signed === 'string' ? signed : undefined;
    res.clearCookie(STATE_COOKIE, { path: '/api', secure: config.secureCookies });

    const heapError = queryValue(req, 'error');
    if (heapError) {
      logger.info({ error: heapError }, 'Heap authorization refused');
      send(res, heapRefusedPage(heapError, queryValue(req, 'error_description')));
      return;
    }
    const result = await completeAuthorization(
      { store, oauth, tokenKey: config.tokenEncryptionKey },
      {
        code: queryValue(req, 'code'),
        queryState: queryValue(req, 'state'),
        cookieState,
        // The sandbox's authorization was made for this very origin (the code came back here).
        redirectUri: sandboxEndpointsFor(req, config)?.redirectUri,
      },
    );
    if (result.ok) {
      logger.info(
        { tenant: tenantLabel(result.idToken), created: result.created },
        'Heap connection stored',
      );
      send(res, connectedPage({ metadata: result.metadata, created: result.created, hubUrl }));
    } else if (result.kind === 'heap') {
      logger.warn(
        { step: result.failure.step, reason: result.failure.reason, status: result.failure.status },
        'Heap OAuth call failed; nothing stored',
      );
      send(res, heapFailurePage(result.failure));
    } else {
      logger.info({ reason: result.reason }, 'OAuth callback refused');
      send(res, badCallbackPage(result.reason));
    }
  };

  router.get('/api/authorize', authorize);
  router.post('/api/authorize', authorize);
  router.all('/api/authorize', methodNotAllowed(['GET', 'POST']));
  for (const path of ['/api/oauth_redirect', '/api/oauth-redirect']) {
    router.get(path, callback);
    router.all(path, methodNotAllowed(['GET']));
  }
  return router;
}
