// Probes for load balancers and orchestrators: /healthz (liveness), /readyz (readiness), /healthcheck.
import { Router } from 'express';
import { methodNotAllowed } from '../middleware/errors';
import { sharedReadiness } from '../src/store/health';
import type { HealthProbe } from '../src/store/types';

export type HealthDeps = {
  store: HealthProbe;
  readinessTimeoutMs: number;
  retryAfterSeconds: number;
};

export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  const readiness = sharedReadiness(deps.store, deps.readinessTimeoutMs);
  // Kept as the seed had it: answers as long as the process serves HTTP.
  router.get('/healthcheck', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Liveness touches no store: a database outage must not make an orchestrator restart every
  // instance, only take them out of the load balancer (readiness).
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, checks } = await readiness();
    const summary = Object.fromEntries(
      Object.entries(checks).map(([name, check]) => [name, check.ok ? 'ok' : 'failing']),
    );
    res.set('Cache-Control', 'no-store');
    if (ready) {
      res.json({ status: 'ready', checks: summary });
      return;
    }
    const failing = Object.entries(checks).flatMap(([name, check]) =>
      check.ok ? [] : [`${name} (${check.reason})`],
    );
    res
      .status(503)
      .set('Retry-After', String(deps.retryAfterSeconds))
      .json({
        error: 'not_ready',
        message: `Not ready: ${failing.join(', ')}.`,
        checks: summary,
      });
  });
  for (const path of ['/healthcheck', '/healthz', '/readyz']) {
    router.all(path, methodNotAllowed(['GET', 'HEAD']));
  }
  return router;
}
