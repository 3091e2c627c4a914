// The server (`heap-partner-api serve`, `npm start`): config → store → app → listen, with a startup banner and graceful shutdown.
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { AdminAccess } from '../admin/access';
import { createApp, createAppMetrics } from '../app';
import { loadConfig, readEnvironment, type Config, type Environment } from '../config/index';
import { createLogger } from './logger';
import {
  createHttpServer,
  describeAddresses,
  listenOnHosts,
  type HttpServer,
  type Listening,
} from './httpServer';
import { startMetricsServer, type MetricsListener } from './metricsServer';
import { createSandboxEmulator } from './sandbox';
import { collectGarbage } from './gc';
import { IdleMemory } from './idleMemory';
import { isStoreUnavailable } from '../store/errors';
import { describeStore, openStore } from '../store';
import { RetentionJob, retentionPolicy } from '../store/retention';
import { AdminAudit } from '../admin/audit';
import { storeInstrumentation, type Store } from '../store/types';

const SHUTDOWN_GRACE_MS = 10_000;

/** Where to sign in to the dashboard; in development with a single-use one-click code. */
function dashboardLines(config: Config, loginCode: string | undefined): string[] {
  const base = config.publicUrl;
  const where =
    config.admin.tokenSource === 'generated'
      ? `the admin token was generated for development, in ${config.admin.tokenFile}`
      : 'sign in with ADMIN_TOKEN';
  if (!loginCode) return [`  Dashboard:      ${base}/   (${where})`];
  return [
    `  Dashboard:      ${base}/login#code=${loginCode}`,
    `                  (one-click sign-in, works once within 15 minutes; afterwards ${where})`,
  ];
}

/** Where the server listens and why, so nobody has to guess whether other machines reach it. */
function listenLine(config: Config, listening: Listening): string {
  const where = describeAddresses(listening.addresses);
  const hint = config.listen.loopbackOnly
    ? '; HOST=0.0.0.0 to accept other machines'
    : config.listen.hosts.length === 0
      ? '; HOST to restrict'
      : '';
  return `  Listening on:   ${where}   (${config.listen.reason}${hint})`;
}

/** Whether the sandbox (the Heap emulator) is mounted, and why. */
function sandboxLine(config: Config): string {
  return config.sandbox.enabled
    ? `  Sandbox:        on (${config.sandbox.reason})`
    : `  Sandbox:        off because ${config.sandbox.reason} (the emulator only ever signs with a generated development secret)`;
}

/** Where the metrics are, if anywhere (never the token). */
function metricsLine(config: Config, metricsListener: MetricsListener | undefined): string {
  if (metricsListener) {
    const auth = config.metrics.token ? ', Authorization: Bearer <METRICS_TOKEN>' : '';
    const { address, port } = metricsListener.address;
    const host = address.includes(':') ? `[${address}]` : address;
    return `  Metrics:        http://${host}:${port}/metrics   (METRICS_PORT${auth})`;
  }
  if (config.metrics.token) {
    return `  Metrics:        ${config.publicUrl}/metrics   (Authorization: Bearer <METRICS_TOKEN>)`;
  }
  return '  Metrics:        off (set METRICS_TOKEN or METRICS_PORT)';
}

function banner(
  config: Config,
  listening: Listening,
  loginCode: string | undefined,
  metricsListener: MetricsListener | undefined,
): string {
  const base = config.publicUrl;
  const cli = path.relative(
    process.cwd(),
    path.join(__dirname, '..', '..', '..', 'bin', 'generateTestHeapHeaders.js'),
  );
  const secret =
    config.webhook.secretSource === 'generated'
      ? `generated for development, in ${config.webhook.secretFile} (set WEBHOOK_SECRET to use Heap's)`
      : `from WEBHOOK_SECRET${config.webhook.secrets.length > 1 ? ' (+ WEBHOOK_SECRET_PREVIOUS during rotation)' : ''}`;
  const oauth = config.oauth;
  const oauthLine = !oauth.enabled
    ? `disabled: set ${oauth.missing.join(', ')}`
    : oauth.sandbox
      ? `local sandbox: Connect Heap uses the built-in Heap emulator (set CLIENT_ID to use Heap)`
      : `Heap at ${oauth.heapBaseUrl}, redirect URI ${oauth.redirectUri}`;
  const lines = [
    '',
    `heap-partner-api is listening on ${base} (${config.production ? 'production' : 'development'})`,
    listenLine(config, listening),
    sandboxLine(config),
    ...dashboardLines(config, loginCode),
    `  Connect Heap:   ${base}/   (${oauthLine})`,
    `  Admin API:      ${base}/docs   (Authorization: Bearer <ADMIN_TOKEN>)`,
    `  Webhook URL:    POST ${base}/webhook   (the one to register in Heap's Developers Hub)`,
    `                  POST ${base}/users_sync and ${base}/users_drain also accept every action`,
    `  Webhook secret: ${secret}`,
    `  Store:          ${describeStore(config)}`,
    metricsLine(config, metricsListener),
    `  Try it:         node ${cli || 'bin/generateTestHeapHeaders.js'} -t sync -u ${base.replace(/^http:\/\//, '')}/users_sync`,
  ];
  if (config.sandbox.enabled && oauth.enabled && oauth.sandbox) {
    lines.push(
      `  Sandbox tour:   1. open ${base}/ and click Connect Heap, then Approve`,
      `                  2. open ${oauth.heapBaseUrl}/developers-hub and press Send sample segment`,
      `                  3. see the segment and its members in the dashboard`,
    );
  }
  for (const warning of config.warnings) lines.push(`  Warning:        ${warning}`);
  return [...lines, ''].join('\n');
}

function configOrExit(env: Environment): Config {
  // The server is what `npm start` runs with nothing set: it generates the development secrets.
  const loaded = loadConfig(env, process.cwd(), { createMissingSecrets: true });
  if (loaded.ok) return loaded.config;
  process.stderr.write(
    `heap-partner-api cannot start; fix the configuration:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}

/** Starts the server as `npm start` does; it runs until SIGTERM/SIGINT and exits the process itself. */
export function main(): void {
  const env = readEnvironment();
  const initial = configOrExit(env);
  const { server, adopt } = createHttpServer(initial.http);
  // Listen first so that with PORT=0 the URLs derived from the port (public URL, sandbox
  // redirect URI) use the real one.
  listenOnHosts(server, initial.port, initial.listen.hosts).then(
    (listening) => {
      server.on('error', (error) => {
        process.stderr.write(`heap-partner-api: the server failed: ${error.message}\n`);
        process.exit(1);
      });
      const config =
        listening.port === initial.port
          ? initial
          : configOrExit({ ...env, PORT: String(listening.port) });
      void serve(server, listening, adopt, config);
    },
    (error: Error) => {
      const where = initial.listen.hosts.length > 0 ? ` (${initial.listen.hosts.join(', ')})` : '';
      process.stderr.write(
        `heap-partner-api could not listen on port ${initial.port}${where}: ${error.message}\n`,
      );
      process.exit(1);
    },
  );
}

/**
 * Answers while the store opens (PostgreSQL migrations may take a moment): retry shortly. The
 * process is alive (/healthz) but not ready (/readyz) until its migrations are done.
 */
function startingHandler(retryAfterSeconds: number) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    const live = path === '/healthz';
    res.writeHead(live ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...(live ? {} : { 'retry-after': String(retryAfterSeconds) }),
    });
    const body = live
      ? { status: 'ok' }
      : path === '/readyz'
        ? {
            error: 'not_ready',
            message: 'Not ready: migrations (the store is still opening).',
            checks: { migrations: 'failing' },
          }
        : { error: 'store_unavailable', message: 'The service is starting; retry later.' };
    res.end(JSON.stringify(body));
  };
}

async function openStoreOrExit(config: Config, logger: Logger): Promise<Store> {
  try {
    return await openStore(config, logger);
  } catch (error) {
    const where = describeStore(config);
    const why = isStoreUnavailable(error)
      ? `it is unreachable (${error.message})`
      : (error as Error).message;
    logger.error({ err: error }, 'could not open the store');
    process.stderr.write(`heap-partner-api cannot start: the store (${where}): ${why}\n`);
    process.exit(1);
  }
}

async function serve(
  server: http.Server,
  listening: Listening,
  adopt: HttpServer['adopt'],
  config: Config,
): Promise<void> {
  const logger = createLogger(config.logLevel);
  const starting = startingHandler(config.retryAfterSeconds);
  server.on('request', starting);
  const store = await openStoreOrExit(config, logger);
  server.off('request', starting);
  const sandbox = createSandboxEmulator(config);
  const adminAudit = new AdminAudit(store, { logger });
  const adminAccess = new AdminAccess(config.admin, config.sessionSecret, {
    sessions: store,
    secureCookies: config.secureCookies,
    audit: adminAudit,
  });
  const metrics = config.metrics.enabled ? createAppMetrics(logger) : undefined;
  const app = createApp({ config, store, logger, sandbox, adminAccess, adminAudit, metrics });
  adopt(app);
  server.on('request', app);
  const retention = new RetentionJob(store, retentionPolicy(config), logger, {
    intervalMs: config.retention.intervalMinutes * 60_000,
    observer: metrics?.retention,
    audit: (entry) => store.recordAudit(entry),
  });
  retention.start();
  // Memory back to the OS once quiet (and after a very large page). This thread's collection
  // runs at once, before the next request is read; the store's (on SQLite: the reader's cache
  // here, then the worker's cache and heap) is started first and finishes in the worker meanwhile.
  const { releaseMemory } = storeInstrumentation(store);
  const idleMemory = new IdleMemory({
    release: async () => {
      const storeReleased = releaseMemory?.();
      collectGarbage();
      await storeReleased;
    },
    onError: (error) => logger.warn({ err: error }, 'could not release memory while idle'),
  });
  server.on('request', idleMemory.observe);
  const metricsListener =
    metrics && config.metrics.port !== undefined
      ? await startMetricsServer(metrics, config.metrics, config.http).catch((error: Error) => {
          process.stderr.write(
            `heap-partner-api could not listen for metrics on ${config.metrics.host}:${config.metrics.port}: ${error.message}\n`,
          );
          process.exit(1);
        })
      : undefined;
  // The one-click link carries a credential, so only a truly local sandbox's banner prints one.
  const loginCode =
    config.sandbox.enabled && adminAccess.sessionsEnabled
      ? adminAccess.issueLoginCode()
      : undefined;
  process.stderr.write(banner(config, listening, loginCode, metricsListener));
  for (const warning of config.warnings) logger.warn(warning);
  logger.info(
    {
      port: config.port,
      production: config.production,
      addresses: listening.addresses.map(({ address }) => address),
      sandbox: config.sandbox.enabled,
      ...(metricsListener ? { metrics_port: metricsListener.port } : {}),
    },
    'listening',
  );

  let stopping = false;
  // Once stopping, a connection that finishes its response is closed rather than kept alive,
  // so server.close() does not wait for keep-alive timeouts.
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    res.on('finish', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
  });
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    idleMemory.stop();
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('in-flight requests did not finish in time; closing connections');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    void Promise.all([listening.close(), metricsListener?.close()]).then(() => {
      metrics?.close();
      Promise.resolve(sandbox?.close())
        .then(() => retention.stop())
        .then(() => adminAudit.close())
        .then(() => store.close())
        .then(() => {
          logger.info('stopped');
          process.exit(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'store did not close cleanly');
          process.exit(1);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

// Run directly (tests, the benchmark); the CLI imports it and calls main() for `serve`.
if (require.main === module) main();
