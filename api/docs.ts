// The admin API's OpenAPI document at /api/openapi.json and Swagger UI at /docs, served locally (no CDN).
import path from 'node:path';
import { Router } from 'express';
import { docsPage } from '../src/pages/docsPage';

/** The only Swagger UI files /docs needs (the package also ships a demo page we do not serve). */
const SWAGGER_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js'];

export function docsRouter(): Router {
  const router = Router();
  // Loaded on the first request for it: a server nobody asks for its spec never loads the YAML
  // parser (72 modules, a few MB of its idle memory).
  let spec: string | undefined;
  const page = docsPage();
  const root = path.dirname(require.resolve('swagger-ui-dist/package.json'));

  router.get('/api/openapi.json', async (_req, res) => {
    spec ??= JSON.stringify((await import('../src/admin/openapi')).loadAdminApiSpec());
    res.type('json').send(spec);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(page);
  });
  for (const file of SWAGGER_FILES) {
    router.get(`/docs/${file}`, (_req, res, next) => {
      res.sendFile(path.join(root, file), { maxAge: '1h' }, (error) => error && next(error));
    });
  }
  return router;
}
