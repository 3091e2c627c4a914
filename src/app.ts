// createApp(deps): the request listener (no listen): webhooks on plain node:http, the rest on Express.
import type { IncomingMessage, ServerResponse } from 'node:http';
import cookieParser from 'cookie-parser';
import express from 'express';
import type { Logger } from 'pino';
import { authorizationRouter } from '../api/authorization';
import { healthRouter } from '../api/health';
import { webhookReceiver } from '../api/webhooks';
import { errorHandler, notFound } from '../middleware/errors';
import { SANDBOX_EMULATOR_PATH, type Config } from './config';
import type { Emulator } from './emulator';
import { landingPage } from './pages/landingPage';
import { sandboxHubUrl } from './sandbox';
import type { Store } from './store/types';

export type AppDeps = {
  config: Config;
  store: Store;
  logger: Logger;
  /** The sandbox's Heap emulator (src/sandbox), mounted when given; never in production. */
  sandbox?: Emulator;
};

/** A node:http request listener: `http.createServer(app)`, `server.on('request', app)`, supertest. */
export type App = (req: IncomingMessage, res: ServerResponse) => void;

export function createApp(deps: AppDeps): App {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  app.use(healthRouter());
  app.use(cookieParser(deps.config.sessionSecret));
  const hubUrl = deps.sandbox ? sandboxHubUrl(deps.config) : undefined;
  if (deps.sandbox && !deps.config.production) {
    app.use(SANDBOX_EMULATOR_PATH, deps.sandbox.router);
  }
  app.use(authorizationRouter({ ...deps, hubUrl }));
  const landing = landingPage({
    publicUrl: deps.config.publicUrl,
    oauthEnabled: deps.config.oauth.enabled,
    hubUrl,
  });
  app.get(['/', '/app'], (_req, res) => {
    res.type('html').send(landing);
  });
  app.use(notFound);
  app.use(errorHandler(deps.logger, deps.config.retryAfterSeconds));
  // Webhooks are Heap's hot path and need nothing but raw bytes: they skip Express, whose
  // routing and response helpers cost more per request than verifying and parsing the page.
  const receiveWebhook = webhookReceiver(deps);
  return (req, res) => {
    if (!receiveWebhook(req, res)) app(req, res);
  };
}
