// createApp(deps): wires routers, middleware and error handling into an Express app (no listen).
import cookieParser from 'cookie-parser';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { authorizationRouter } from '../api/authorization';
import { healthRouter } from '../api/health';
import { webhookRouter } from '../api/webhooks';
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

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  app.use(healthRouter());
  // Webhooks come before cookie parsing and anything else: they need nothing but raw bytes.
  app.use(webhookRouter(deps));
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
  return app;
}
