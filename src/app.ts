// createApp(deps): wires routers, middleware and error handling into an Express app (no listen); the package's heap-partner-api/app entry.
import cookieParser from 'cookie-parser';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { adminApiRouter, USER_SEGMENTS_PATH, userSegmentsRoute } from '../api/admin';
import { adminSessionRouter } from '../api/adminSession';
import { authorizationRouter } from '../api/authorization';
import { dashboardRouter } from '../api/dashboard';
import { docsRouter } from '../api/docs';
import { healthRouter } from '../api/health';
import { webhookRouter } from '../api/webhooks';
import { errorHandler, notFound } from '../middleware/errors';
import { inlineStyleHashes, securityHeaders } from '../middleware/securityHeaders';
import { AdminAccess } from './admin/access';
import { AdminAudit } from './admin/audit';
import { AdminService } from './admin/service';
import { SANDBOX_EMULATOR_PATH, type Config } from './config/index';
import type { Emulator } from './emulator';
import { AppMetrics, FRESHNESS_TOP } from './metrics/appMetrics';
import { METRICS_PATH, metricsHandler } from './metrics/handler';
import { html } from './pages/html';
import { layout } from './pages/layout';
import { sandboxHubUrl } from './server/sandbox';
import type { Store } from './store/types';
import { WebhookBodyBudget } from './webhook/bodyBudget';

export type AppDeps = {
  config: Config;
  store: Store;
  logger: Logger;
  /** The sandbox's Heap emulator (src/sandbox), mounted when given and config.sandbox is on. */
  sandbox?: Emulator;
  /**
   * Admin sign-in state; given by the server so its banner can print a one-click sign-in link.
   * Give it the same `audit` as below, or sign-ins go unrecorded.
   */
  adminAccess?: AdminAccess;
  /**
   * The admin audit log's writer; made from the store when not given. The server gives its own,
   * to write the counted sign-in refusals at shutdown (adminAudit.close()).
   */
  adminAudit?: AdminAudit;
  /**
   * Webhook body bytes buffered at once (WEBHOOK_MAX_INFLIGHT_BYTES); made from the config when
   * not given. Its inUseBytes is the figure to watch.
   */
  webhookBodyBudget?: WebhookBodyBudget;
  /**
   * Prometheus metrics, one per app (createApp starts watching its store and body budget); made
   * when config.metrics is enabled and none is given. The server gives one to serve it on
   * METRICS_PORT and to feed it from the retention job.
   */
  metrics?: AppMetrics;
};

/** The app's metrics: scrape-time query failures are logged, not thrown. */
export function createAppMetrics(logger: Logger): AppMetrics {
  return new AppMetrics({
    onCollectError: (what, error) =>
      logger.warn({ err: error }, `metrics: could not read ${what}; the scrape omits it`),
  });
}

// The whole server for embedders (heap-partner-api/app): its configuration and store come with it.
export { loadConfig, type Config } from './config/index';
export { openStore, type OpenStoreOptions } from './store';
export { AppMetrics, type MetricsSources } from './metrics/appMetrics';
export type { SegmentFreshnessSummary } from './store/types';

/** The Express app; also a node:http request listener (`http.createServer(app)`, supertest). */
export type App = Express;

/**
 * Forms go to our own pages and to Heap: Connect Heap's POST redirects there, and browsers check
 * form-action on redirects. (The mounted emulator's router sets its own policy for its pages.)
 */
function securityHeaderOptions(config: Config) {
  const oauth = config.oauth;
  const formActionOrigins = oauth.enabled ? [new URL(oauth.heapBaseUrl).origin] : [];
  const styleHashes = inlineStyleHashes(layout({ title: '', body: html`` }));
  return { hsts: config.hsts, formActionOrigins, styleHashes };
}

export function createApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag on res.send: admin API answers are Cache-Control: no-store and webhook answers are
  // POST results, so nobody revalidates them; static files keep theirs (express.static).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.use(securityHeaders(securityHeaderOptions(config)));
  const audit = deps.adminAudit ?? new AdminAudit(deps.store, { logger });
  const access =
    deps.adminAccess ??
    new AdminAccess(config.admin, config.sessionSecret, {
      sessions: deps.store,
      secureCookies: config.secureCookies,
      audit,
    });
  const service = new AdminService(deps.store, {
    staleAfterSeconds: config.staleSegmentHours * 3600,
    audit,
  });
  const cookies = cookieParser(config.sessionSecret || undefined);
  // The admin API's hot path first: its chain is the admin router's (see userSegmentsRoute).
  app.get(USER_SEGMENTS_PATH, ...userSegmentsRoute({ access, service }, cookies));
  app.use(
    healthRouter({
      store: deps.store,
      readinessTimeoutMs: config.readinessTimeoutMs,
      retryAfterSeconds: config.retryAfterSeconds,
    }),
  );
  const webhookBodyBudget =
    deps.webhookBodyBudget ?? new WebhookBodyBudget(config.webhook.maxInflightBytes);
  const metrics = deps.metrics ?? (config.metrics.enabled ? createAppMetrics(logger) : undefined);
  metrics?.watch({
    bodyBudget: webhookBodyBudget,
    store: deps.store,
    activeConnections: async () =>
      (await deps.store.listConnections()).filter((connection) => connection.active).length,
    segmentFreshness: () =>
      deps.store.segmentFreshness({
        staleAfterSeconds: config.staleSegmentHours * 3600,
        top: FRESHNESS_TOP,
      }),
  });
  // On the app's port only behind METRICS_TOKEN; with METRICS_PORT the server serves it there.
  if (metrics && config.metrics.token !== undefined && config.metrics.port === undefined) {
    app.all(METRICS_PATH, metricsHandler(metrics, config.metrics.token));
  }
  // Webhooks come before cookie parsing and anything else: they need nothing but raw bytes.
  app.use(webhookRouter({ ...deps, webhookBodyBudget, observer: metrics?.receive }));
  app.use(cookies);
  // Only a truly local sandbox mounts the emulator (config.sandbox); anywhere else the path is a 404.
  const sandbox = config.sandbox.enabled && !config.production ? deps.sandbox : undefined;
  const hubUrl = sandbox ? sandboxHubUrl(config) : undefined;
  if (sandbox) app.use(SANDBOX_EMULATOR_PATH, sandbox.router);
  app.use(authorizationRouter({ ...deps, hubUrl }));
  app.use(docsRouter());
  app.use(adminSessionRouter({ access, logger }));
  // Everything else under /api is the admin API and needs admin credentials.
  app.use(adminApiRouter({ access, service, logger }));
  app.use(dashboardRouter({ config, hubUrl }));
  app.use(notFound);
  app.use(errorHandler(logger, config.retryAfterSeconds));
  return app;
}
