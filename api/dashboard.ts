// Serves the dashboard: its HTML shell at /, /app and /login, and the static modules under /assets.
import express, { Router } from 'express';
import type { Config } from '../src/config';
import { dashboardPage } from '../src/pages/dashboardPage';
import { publicDir } from '../src/paths';

export const DASHBOARD_PATHS = ['/', '/app', '/login'];

/**
 * The dashboard renders Heap's values with textContent; the policy below is the second line: no
 * inline script, nothing from other origins, no framing. Forms may also go to Heap, because
 * Connect Heap's POST redirects there and browsers check form-action on redirects.
 */
function contentSecurityPolicy(config: Config): string {
  const heapOrigin = config.oauth.enabled ? new URL(config.oauth.heapBaseUrl).origin : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    `form-action 'self' ${heapOrigin}`.trim(),
  ].join('; ');
}

export function dashboardRouter({ config, hubUrl }: { config: Config; hubUrl?: string }): Router {
  const router = Router();
  const page = dashboardPage({
    publicUrl: config.publicUrl,
    oauthEnabled: config.oauth.enabled,
    hubUrl,
  });
  const csp = contentSecurityPolicy(config);
  router.get(DASHBOARD_PATHS, (_req, res) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(page);
  });
  router.use(
    '/assets',
    express.static(publicDir, { index: false, redirect: false, fallthrough: true }),
  );
  return router;
}
