// The METRICS_PORT listener: only GET /metrics (behind METRICS_TOKEN when set), on METRICS_HOST (loopback by default).
import type { AddressInfo } from 'node:net';
import type { HttpLimits, MetricsConfig } from '../config/index';
import type { AppMetrics } from '../metrics/appMetrics';
import { METRICS_PATH, metricsHandler } from '../metrics/handler';
import { createHttpServer, listenOnHosts, type Listening } from './httpServer';

export type MetricsListener = { port: number; address: AddressInfo; close(): Promise<void> };

/**
 * A listener of its own, so the metrics can stay on an internal address while the app's port
 * faces Heap and browsers. Anything but /metrics is a 404: nothing else of the app is here.
 */
export async function startMetricsServer(
  metrics: AppMetrics,
  config: Pick<MetricsConfig, 'port' | 'host' | 'token'>,
  limits: HttpLimits,
): Promise<MetricsListener> {
  const handle = metricsHandler(metrics, config.token);
  const { server } = createHttpServer(limits);
  server.on('request', (req, res) => {
    if ((req.url ?? '').split('?')[0] === METRICS_PATH) {
      handle(req, res);
      return;
    }
    res.writeHead(404, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(
      JSON.stringify({ error: 'not_found', message: `Only GET ${METRICS_PATH} is served here.` }),
    );
  });
  const listening: Listening = await listenOnHosts(server, config.port ?? 0, [config.host]);
  return {
    port: listening.port,
    address: listening.addresses[0],
    close: () => {
      const closed = listening.close();
      server.closeAllConnections();
      return closed;
    },
  };
}
