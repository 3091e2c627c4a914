// Entry point: config → store → app → listen, with a startup banner and graceful shutdown.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createApp } from './app';
import { loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { SqliteStore } from './store/sqlite';

const SHUTDOWN_GRACE_MS = 10_000;

function banner(config: Config, port: number): string {
  const base = `http://localhost:${port}`;
  const cli = path.relative(
    process.cwd(),
    path.join(__dirname, '..', '..', 'bin', 'generateTestHeapHeaders.js'),
  );
  const secret =
    config.webhook.secretSource === 'generated'
      ? `generated for development, in ${config.webhook.secretFile} (set WEBHOOK_SECRET to use Heap's)`
      : `from WEBHOOK_SECRET${config.webhook.secrets.length > 1 ? ' (+ WEBHOOK_SECRET_PREVIOUS during rotation)' : ''}`;
  return [
    '',
    `heap-partner-api is listening on ${base} (${config.production ? 'production' : 'development'})`,
    `  Webhook URL:    POST ${base}/webhook   (the one to register in Heap's Developers Hub)`,
    `                  POST ${base}/users_sync and ${base}/users_drain also accept every action`,
    `  Webhook secret: ${secret}`,
    `  Store:          SQLite at ${config.sqlite.file}`,
    `  Try it:         node ${cli || 'bin/generateTestHeapHeaders.js'} -t sync -u localhost:${port}/users_sync`,
    '',
  ].join('\n');
}

function main(): void {
  const loaded = loadConfig();
  if (!loaded.ok) {
    process.stderr.write(
      `heap-partner-api cannot start; fix the configuration:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  const store = new SqliteStore({
    file: config.sqlite.file,
    busyTimeoutMs: config.sqlite.busyTimeoutMs,
  });
  const app = createApp({ config, store, logger });

  const server = app.listen(config.port, () => {
    const { port } = server.address() as AddressInfo;
    process.stderr.write(banner(config, port));
    logger.info({ port, production: config.production }, 'listening');
  });
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'could not listen');
    process.exit(1);
  });

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
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('in-flight requests did not finish in time; closing connections');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      store
        .close()
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

main();
