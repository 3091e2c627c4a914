// Liveness: answers as long as the process serves HTTP.
import { Router } from 'express';
import { methodNotAllowed } from '../middleware/errors';

export function healthRouter(): Router {
  const router = Router();
  router.get('/healthcheck', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.all('/healthcheck', methodNotAllowed(['GET', 'HEAD']));
  return router;
}
