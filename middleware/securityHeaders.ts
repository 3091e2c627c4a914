// The one place security headers are set: CSP, nosniff, Referrer-Policy and (https) HSTS on every response.
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';

export type SecurityHeaderOptions = {
  /** Strict-Transport-Security: only when the public origin is https (over http it is ignored). */
  hsts: boolean;
  /**
   * Origins a form may submit to, or be redirected to after submitting, besides our own: Heap,
   * for Connect Heap's POST that redirects there; the app, for the standalone emulator's consent
   * form that redirects back to it.
   */
  formActionOrigins?: string[];
  /** The pages' fixed inline stylesheets (see inlineStyleHashes); no other inline style runs. */
  styleHashes?: string[];
};

export const HSTS_VALUE = 'max-age=31536000; includeSubDomains';

/**
 * The CSP hash source of every <style> block in a rendered page. Server-rendered pages keep
 * their small stylesheet inline; hashing it allows exactly that text and no injected style.
 */
export function inlineStyleHashes(page: string): string[] {
  return [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map(
    (match) => `'sha256-${createHash('sha256').update(match[1]).digest('base64')}'`,
  );
}

/**
 * Every page is built from our own origin only: scripts and stylesheets are files we serve
 * (Swagger UI's too, from swagger-ui-dist under /docs), Heap's values are rendered as text, and
 * nothing may frame a page (clickjacking of the dashboard's buttons or the consent page).
 * Swagger UI draws its icons as data: images and sets styles through the DOM, which style-src
 * does not govern, so it needs nothing beyond 'self'.
 */
export function contentSecurityPolicy(options: SecurityHeaderOptions): string {
  const styles = ["'self'", ...(options.styleHashes ?? [])];
  const forms = ["'self'", ...(options.formActionOrigins ?? [])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src ${[...new Set(styles)].join(' ')}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    `form-action ${[...new Set(forms)].join(' ')}`,
  ].join('; ');
}

/**
 * Sets the headers on every response, before any route runs, so no page (the dashboard, /docs,
 * the OAuth pages, the emulator's) and no JSON answer can be served without them. JSON gets the
 * same CSP: harmless there, and a browser tricked into rendering it still runs nothing.
 */
export function securityHeaders(options: SecurityHeaderOptions): RequestHandler {
  const headers: Record<string, string> = {
    'Content-Security-Policy': contentSecurityPolicy(options),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // Older browsers that ignore frame-ancestors.
    'X-Frame-Options': 'DENY',
  };
  if (options.hsts) headers['Strict-Transport-Security'] = HSTS_VALUE;
  return (_req, res, next) => {
    res.set(headers);
    next();
  };
}
