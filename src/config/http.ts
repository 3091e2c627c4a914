// The HTTP server's settings: port and listen addresses (HOST), the Retry-After of 503s, and the node:http timeouts.
import { integer, nonEmpty, type Environment } from './env';
import { isLoopbackHost, LOOPBACK_ADDRESSES } from './loopback';

export const DEFAULT_PORT = 3000;

/** Where the server listens. */
export type ListenConfig = {
  /** Addresses (or names) to bind, each on the same port; empty means every interface. */
  hosts: string[];
  /** Every host is this machine's loopback. */
  loopbackOnly: boolean;
  /** Where the hosts came from, for the banner. */
  reason: string;
};

export type HttpLimits = {
  /** Time allowed to receive a request's headers. */
  headersTimeoutMs: number;
  /** Time allowed to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** Requests served on one connection before it is closed (0: no limit). */
  maxRequestsPerSocket: number;
};

export function serverSettings(
  env: Environment,
  production: boolean,
  problems: string[],
): {
  port: number;
  listen: ListenConfig;
  retryAfterSeconds: number;
  readinessTimeoutMs: number;
} {
  return {
    port: integer(env, 'PORT', DEFAULT_PORT, 0, 65535, problems),
    listen: listenConfig(env, production, problems),
    retryAfterSeconds: integer(env, 'RETRY_AFTER_SECONDS', 5, 1, 3600, problems),
    readinessTimeoutMs: integer(env, 'READINESS_TIMEOUT_MS', 2000, 10, 60_000, problems),
  };
}

/**
 * Development listens on loopback (both families, so `localhost` works whichever one a client
 * tries first); production on every interface, as a container or VM needs. HOST overrides both.
 */
function listenConfig(env: Environment, production: boolean, problems: string[]): ListenConfig {
  const raw = nonEmpty(env.HOST)?.trim();
  if (raw === undefined) {
    return production
      ? { hosts: [], loopbackOnly: false, reason: 'every interface, the production default' }
      : {
          hosts: [...LOOPBACK_ADDRESSES],
          loopbackOnly: true,
          reason: 'loopback only, the development default',
        };
  }
  // A bracketed IPv6 address is accepted as written in URLs; listen() wants it bare.
  const hosts = raw.split(',').map((host) => host.trim().replace(/^\[(.*)\]$/, '$1'));
  if (hosts.some((host) => !/^[A-Za-z0-9._:%-]+$/.test(host))) {
    problems.push(
      `HOST must be an address or host name to listen on, or a comma-separated list of them, such as 0.0.0.0 or 127.0.0.1,::1 (got "${raw}")`,
    );
    return { hosts: [], loopbackOnly: false, reason: `HOST=${raw}` };
  }
  return { hosts, loopbackOnly: hosts.every(isLoopbackHost), reason: `HOST=${raw}` };
}

export function httpLimits(env: Environment, problems: string[]): HttpLimits {
  const headersTimeoutMs = integer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 1000, 600_000, problems);
  const requestTimeoutMs = integer(
    env,
    'HTTP_REQUEST_TIMEOUT_MS',
    30_000,
    1000,
    3_600_000,
    problems,
  );
  // Above the idle timeout of common load balancers (60 s on AWS ALB and GCP), so the balancer,
  // not us, closes an idle connection: otherwise it may send a request on a socket we just closed.
  const keepAliveTimeoutMs = integer(
    env,
    'HTTP_KEEPALIVE_TIMEOUT_MS',
    65_000,
    1000,
    600_000,
    problems,
  );
  const maxRequestsPerSocket = integer(
    env,
    'HTTP_MAX_REQUESTS_PER_SOCKET',
    1000,
    0,
    1_000_000,
    problems,
  );
  if (headersTimeoutMs > requestTimeoutMs) {
    problems.push(
      `HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs}): the headers are part of the request (Node refuses it)`,
    );
  }
  return { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxRequestsPerSocket };
}
