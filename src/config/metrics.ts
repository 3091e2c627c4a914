// The Prometheus metrics' settings: METRICS_TOKEN (/metrics on the app's port) or METRICS_PORT/METRICS_HOST (their own listener).
import { integer, nonEmpty, type Environment } from './env';
import { isLoopbackHost } from './loopback';

/** A shorter token could be guessed: /metrics has no sign-in throttle. */
export const MIN_METRICS_TOKEN_LENGTH = 16;
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/**
 * Nothing is served unless asked for: without METRICS_TOKEN and METRICS_PORT there is no
 * /metrics anywhere, and the app creates no metrics at all.
 */
export type MetricsConfig = {
  /** Metrics are collected and served (a token or a port is set). */
  enabled: boolean;
  /** Bearer token a scrape must present, wherever /metrics is served. */
  token: string | undefined;
  /**
   * Serve /metrics on its own listener at this port (0: any free port) instead of the app's
   * port; undefined: on the app's port, behind the token.
   */
  port: number | undefined;
  /** The address that listener binds (loopback unless METRICS_HOST says otherwise). */
  host: string;
};

export function metricsSettings(
  env: Environment,
  appPort: number,
  problems: string[],
  warnings: string[],
): MetricsConfig {
  const token = nonEmpty(env.METRICS_TOKEN)?.trim();
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    problems.push(
      `METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters (for example: openssl rand -base64 32)`,
    );
  }
  const port =
    nonEmpty(env.METRICS_PORT) === undefined
      ? undefined
      : integer(env, 'METRICS_PORT', 0, 0, 65535, problems);
  if (port !== undefined && port !== 0 && port === appPort) {
    problems.push(
      `METRICS_PORT (${port}) must differ from PORT: the metrics listener is a separate one (unset METRICS_PORT to serve /metrics on PORT behind METRICS_TOKEN)`,
    );
  }
  const rawHost = nonEmpty(env.METRICS_HOST)?.trim();
  // A bracketed IPv6 address is accepted as written in URLs; listen() wants it bare.
  const host = rawHost?.replace(/^\[(.*)\]$/, '$1') ?? DEFAULT_METRICS_HOST;
  if (!/^[A-Za-z0-9._:%-]+$/.test(host)) {
    problems.push(`METRICS_HOST must be one address or host name to listen on (got "${rawHost}")`);
  }
  if (rawHost !== undefined && port === undefined) {
    problems.push('METRICS_HOST is set without METRICS_PORT: set the port the metrics listen on');
  }
  if (port !== undefined && token === undefined && !isLoopbackHost(host)) {
    warnings.push(
      `Metrics are served on ${host}:${port} without METRICS_TOKEN: anyone who reaches that address reads them`,
    );
  }
  return { enabled: token !== undefined || port !== undefined, token, port, host };
}
