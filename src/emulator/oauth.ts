// Heap's OAuth endpoints over HTTP (authorize, token, metadata), at Heap's paths under the mount point.
import express, { Router, type ErrorRequestHandler, type Response } from 'express';
import type { FaultInjector } from './faults';
import { requestOrigin } from './hostCheck';
import { consentPage, errorPage, sendHtml } from './pages';
import { SCOPE, type OAuthError, type OAuthProvider } from './provider';

export const AUTHORIZE_PATH = '/api/partner/oauth/authorize';
export const TOKEN_PATH = '/api/partner/oauth/token';
export const METADATA_PATH = '/api/partner/v1/metadata';

const DEFAULT_AUTHORIZED_BY = 'you@example.com';
const BODY_LIMIT = '16kb';

export type OAuthRouterDeps = { provider: OAuthProvider; faults: FaultInjector };

export function oauthRouter({ provider, faults }: OAuthRouterDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT });
  const json = express.json({ limit: BODY_LIMIT });

  router.get(AUTHORIZE_PATH, (req, res) => {
    const checked = provider.checkAuthorizeRequest(
      req.query as Record<string, unknown>,
      requestOrigin(req),
    );
    if (!checked.ok) {
      sendHtml(res, 400, errorPage('This authorization request is not valid', checked.message));
      return;
    }
    const { client, redirectUri } = checked.request;
    const { nonce, suggestedEnvId } = provider.beginAuthorization(checked.request);
    sendHtml(
      res,
      200,
      consentPage({
        action: `${req.baseUrl}${AUTHORIZE_PATH}`,
        appName: client.appName,
        scope: SCOPE,
        redirectUri,
        nonce,
        suggestedEnvId,
        suggestedAuthorizedBy: DEFAULT_AUTHORIZED_BY,
      }),
    );
  });

  router.post(AUTHORIZE_PATH, form, (req, res) => {
    const body = asRecord(req.body);
    const decided = provider.decide(
      body.nonce,
      { decision: body.decision, envId: body.env_id, authorizedBy: body.authorized_by },
      requestOrigin(req),
    );
    if (!decided.ok) {
      sendHtml(res, 400, errorPage('The authorization could not be completed', decided.message));
      return;
    }
    res.set('Cache-Control', 'no-store').redirect(302, decided.location);
  });

  router.post(TOKEN_PATH, json, form, (req, res) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    if (faults.intercept('token', res)) return;
    const result = provider.exchangeCode(asRecord(req.body));
    if (!result.ok) {
      sendOAuthError(res, result);
      return;
    }
    res.json(result.body);
  });

  router.get(`${METADATA_PATH}/:id_token`, (req, res) => {
    if (faults.intercept('metadata', res)) return;
    const result = provider.metadata(req.params.id_token, req.get('authorization'));
    if (!result.ok) {
      if (result.status === 401) res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      sendOAuthError(res, result);
      return;
    }
    res.json(result.body);
  });

  router.use('/api/partner', (req, res) => {
    res.status(404).json({
      error: 'not_found',
      error_description: `Nothing is served at ${req.method} ${req.originalUrl.split('?')[0]}.`,
    });
  });

  // Unreadable bodies: the consent form answers a page, the API answers OAuth-style JSON.
  const unreadable: ErrorRequestHandler = (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status = clientErrorStatus(error);
    if (req.path === AUTHORIZE_PATH) {
      sendHtml(
        res,
        status,
        errorPage('The request could not be read', 'Start again from the partner app.'),
      );
      return;
    }
    res.status(status).json({
      error: status < 500 ? 'invalid_request' : 'server_error',
      error_description:
        status < 500
          ? 'The request body could not be read.'
          : 'Something went wrong in the emulator.',
    });
  };
  router.use(unreadable);
  return router;
}

function sendOAuthError(res: Response, error: OAuthError): void {
  res.status(error.status).json({ error: error.error, error_description: error.description });
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The 4xx an HTTP error carries (body-parser sets one), else 500. */
export function clientErrorStatus(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}
