// Serves the dashboard: its HTML shell at /, /app and /login, and the static modules under /assets.
import express, { Router } from 'express';
import type { Config } from '../src/config/index';
import { dashboardPage } from '../src/pages/dashboardPage';
import { publicDir } from '../src/config/paths';

export const DASHBOARD_PATHS = ['/', '/app', '/login'];

export function dashboardRouter({ config, hubUrl }: { config: Config; hubUrl?: string }): Router {
  const router = Router();
  const page = dashboardPage({
    publicUrl: config.publicUrl,
    oauthEnabled: config.oauth.enabled,
    hubUrl,
  });
  // The page's CSP and other security headers come from middleware/securityHeaders.
  router.get(DASHBOARD_PATHS, (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(page);
  });
  router.use(
    '/assets',
    express.static(publicDir, { index: false, redirect: false, fallthrough: true }),
  );
  return router;
}
