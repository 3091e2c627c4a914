// createApp(deps): wires routers, middleware and error handling into an Express app (no listen).
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { healthRouter } from '../api/health';
import { webhookRouter } from '../api/webhooks';
import { errorHandler, notFound } from '../middleware/errors';
import type { Config } from './config';
import type { Store } from './store/types';

export type AppDeps = { config: Config; store: Store; logger: Logger };

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRouter());
  app.use(webhookRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger, deps.config.retryAfterSeconds));
  return app;
}
