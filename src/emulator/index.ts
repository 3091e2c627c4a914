// createEmulator: a local Heap (OAuth provider + Developers Hub) as an Express router to mount or run alone.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router, type Request } from 'express';
import { securityHeaders } from '../../middleware/securityHeaders';
import { CheckRunner } from './checks';
import { FaultInjector } from './faults';
import { hostnamesOf, requireAllowedHost } from './hostCheck';
import { hubRouter } from './hub';
import { HUB_PAGE_PATH, hubPageRouter } from './hubPage';
import { oauthRouter } from './oauth';
import { EMULATOR_STYLE_HASHES } from './pages';
import { resolveOptions, type EmulatorOptions } from './options';
import { OAuthProvider } from './provider';
import { RunManager } from './runs';
import { HubState } from './state';

export type { EmulatorClient, EmulatorOptions, RetryPolicy } from './options';
export { DEFAULT_RETRY, DEFAULT_CODE_TTL_MS } from './options';
export { loadEmulatorOptions, type EmulatorSettings } from './env';

export type Emulator = {
  /** Every route, relative to wherever it is mounted: `app.use('/heap-emulator', emulator.router)`. */
  router: Router;
  /** Serves the router alone at the root (default: a free port on 127.0.0.1). */
  listen(port?: number, host?: string): Promise<{ server: Server; url: string }>;
  /** Stops retries and held responses, waits for runs to settle, closes servers from listen(). */
  close(): Promise<void>;
};

/** Builds an emulator; throws a TypeError listing every problem when the options are invalid. */
export function createEmulator(options: EmulatorOptions): Emulator {
  const resolved = resolveOptions(options);
  if (!resolved.ok) {
    throw new TypeError(
      `Invalid emulator options:\n${resolved.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  const settings = resolved.options;
  const provider = new OAuthProvider(settings.clients, settings.now, settings.codeTtlMs);
  const faults = new FaultInjector();
  const state = new HubState(settings.webhook.url);
  const runs = new RunManager({
    state,
    isConnected: (idToken) => provider.hasConnection(idToken),
    secret: settings.webhook.secret,
    retry: settings.retry,
    now: settings.now,
    random: settings.random,
  });
  const checks = new CheckRunner({
    webhookUrl: () => state.webhookUrl,
    secret: settings.webhook.secret,
    timeoutMs: settings.retry.timeoutMs,
    now: settings.now,
  });
  const publicBaseUrl = (req: Request) =>
    settings.publicBaseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;

  // The same security headers as the app's pages, wherever the router is mounted (the app, an
  // embedder's app, listen()). The consent form redirects to the apps' redirect URIs, so those
  // origins may receive it.
  const headers = securityHeaders({
    hsts: false,
    styleHashes: EMULATOR_STYLE_HASHES,
    formActionOrigins: settings.clients.map((client) => new URL(client.redirectUri).origin),
  });
  const router = Router();
  router.use(headers);
  router.use(requireAllowedHost(hostnamesOf([settings.publicBaseUrl]), settings.allowIpHosts));
  router.use(oauthRouter({ provider, faults }));
  router.use(
    hubRouter({
      state,
      runs,
      provider,
      faults,
      checks,
      allowedWebhookUrls: settings.webhook.allowedUrls,
    }),
  );
  router.use(
    hubPageRouter({ state, provider, faults, checks, clients: settings.clients, publicBaseUrl }),
  );

  const servers = new Set<Server>();
  return {
    router,
    listen(port = 0, host = '127.0.0.1') {
      const app = express();
      app.disable('x-powered-by');
      app.use(headers);
      app.get('/', (_req, res) => res.redirect(302, HUB_PAGE_PATH));
      app.use(router);
      app.use((req, res) => {
        res.status(404).json({
          error: 'not_found',
          message: `Nothing is served at ${req.method} ${req.path}.`,
        });
      });
      const server = createServer(app);
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          servers.add(server);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ server, url: `http://${shownHost}:${address.port}` });
        });
      });
    },
    async close() {
      faults.releaseAll();
      await Promise.all([runs.close(), checks.close()]);
      await Promise.all(
        [...servers].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
      servers.clear();
    },
  };
}
