// Reads env and `.env` into one validated Config; the only module that looks at process.env.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import bytes from 'bytes';
import dotenv from 'dotenv';
import { isLoopbackHost, LOOPBACK_ADDRESSES } from './loopback';
import { DEFAULT_TOLERANCE_AHEAD_MS, DEFAULT_TOLERANCE_OLD_MS } from '../webhook/signature';

export type Environment = Record<string, string | undefined>;

export type SecretSource = 'env' | 'generated';

declare const generatedSecret: unique symbol;
/**
 * The webhook secret this process generated for development (DATA_DIR/webhook-secret). Only
 * loadConfig makes one, and only when WEBHOOK_SECRET is not set: the sandbox emulator takes
 * nothing else, so it cannot be handed Heap's real secret.
 */
export type GeneratedSecret = string & { readonly [generatedSecret]: true };

/**
 * The zero-config local sandbox (the Heap emulator mounted at /heap-emulator). On only when it
 * is truly local: development, and neither WEBHOOK_SECRET nor CLIENT_ID set. `reason` says why,
 * for the banner.
 */
export type SandboxConfig =
  | { enabled: true; reason: string; webhookSecret: GeneratedSecret }
  | { enabled: false; reason: string };

/** Where the server listens. */
export type ListenConfig = {
  /** Addresses (or names) to bind, each on the same port; empty means every interface. */
  hosts: string[];
  /** Every host is this machine's loopback. */
  loopbackOnly: boolean;
  /** Where the hosts came from, for the banner. */
  reason: string;
};

export type Config = {
  production: boolean;
  port: number;
  listen: ListenConfig;
  sandbox: SandboxConfig;
  dataDir: string;
  logLevel: string;
  webhook: {
    /** Current secret first, then the previous one while a rotation is in progress. */
    secrets: string[];
    secretSource: SecretSource;
    /** Where the generated development secret lives (only when secretSource is 'generated'). */
    secretFile?: string;
    toleranceOldMs: number;
    toleranceAheadMs: number;
    bodyLimitBytes: number;
    /** Webhook body bytes buffered at once across all requests; beyond it, 503 + Retry-After. */
    maxInflightBytes: number;
  };
  /** Limits of the node:http server, so slow or idle clients cannot hold sockets for long. */
  http: HttpLimits;
  sqlite: {
    file: string;
    busyTimeoutMs: number;
  };
  /** Set when DATABASE_URL is: PostgreSQL replaces SQLite (many instances, one database). */
  postgres: PostgresConfig | undefined;
  /** Seconds a client is told to wait after a 503. */
  retryAfterSeconds: number;
  /** Origin the app is reached at (links in pages, the sandbox's redirect URI). */
  publicUrl: string;
  /**
   * Express "trust proxy": which hops' X-Forwarded-* headers are believed. false trusts none; a
   * number trusts that many hops (the right-most X-Forwarded-For entries); a list trusts those
   * addresses, CIDRs or the names loopback, linklocal, uniquelocal; true (development only)
   * trusts every hop, so any client can choose its own address.
   */
  trustProxy: TrustProxy;
  /** Cookies carry Secure (and the session cookie a __Host- name): PUBLIC_URL is https or production. */
  secureCookies: boolean;
  /** Strict-Transport-Security on every response: PUBLIC_URL is https. */
  hsts: boolean;
  /** Signs cookies (OAuth state, admin sessions); empty only in production without SESSION_SECRET. */
  sessionSecret: string;
  admin: AdminConfig;
  /** AES-256-GCM key for access tokens at rest; undefined only when OAuth is not configured. */
  tokenEncryptionKey: Buffer | undefined;
  /** The key being rotated away from: tokens still sealed with it are read and re-sealed. */
  tokenEncryptionKeyPrevious: Buffer | undefined;
  oauth: OAuthConfig;
  /** What to do with a delivery whose id_token has no connection. */
  unknownIdToken: 'accept' | 'reject';
  /** The retention job (src/store/retention.ts): ages in days, 0 = keep forever. */
  retention: RetentionConfig;
  /** Unexpired OAuth states allowed at once; beyond it /api/authorize answers 503. */
  oauthMaxPendingStates: number;
  /** Non-fatal problems to report at start-up. */
  warnings: string[];
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
export type TrustProxy = boolean | number | string[];

export type PostgresConfig = {
  /** The connection string as given; holds the password, so never log or print it. */
  url: string;
  /** `host:port/database`, safe for banners and logs (no user, no password). */
  display: string;
  poolSize: number;
  /** Bound on getting a connection, from the pool or a new one. */
  connectTimeoutMs: number;
  /** Bound on each statement; together they keep a request from hanging on a sick database. */
  statementTimeoutMs: number;
  /** Apply pending migrations at start-up (false: `npm run migrate` does it, start-up checks). */
  migrateOnStart: boolean;
};

export type OAuthConfig =
  | {
      enabled: true;
      /** The built-in Heap emulator plays Heap (development without CLIENT_ID). */
      sandbox: boolean;
      clientId: string;
      clientSecret: string;
      redirectUri: string;
      /** Origin (and path prefix) of Heap's OAuth and metadata endpoints. */
      heapBaseUrl: string;
      timeoutMs: number;
    }
  | { enabled: false; missing: string[] };

export type AdminConfig = {
  /** The bearer token of the admin API and the dashboard's sign-in. */
  token: string;
  tokenSource: SecretSource;
  /** Where the generated development token lives (only when tokenSource is 'generated'). */
  tokenFile?: string;
  sessionTtlMs: number;
  /** A session unused for this long is refused (the absolute sessionTtlMs still applies). */
  sessionIdleMs: number;
  /** Wrong admin tokens per minute, across every client, before every sign-in waits. */
  loginFailuresPerMinute: number;
};

export type RetentionConfig = {
  deliveriesDays: number;
  syncTasksDays: number;
  changesDays: number;
  intervalMinutes: number;
};

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

export const DEFAULT_PORT = 3000;
export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_BODY_LIMIT = '16mb';
/**
 * Four 16 MiB bodies at once: a small share of a 2-core, 24 GiB machine (RSS stays near 200 MB
 * under attack), yet far more than Heap's own concurrency needs (pages of 100,000 users are ~3 MB).
 */
export const DEFAULT_MAX_INFLIGHT_BYTES = '64mb';
export const WEBHOOK_SECRET_FILE = 'webhook-secret';
export const SESSION_SECRET_FILE = 'session-secret';
export const TOKEN_KEY_FILE = 'token-encryption-key';
export const ADMIN_TOKEN_FILE = 'admin-token';
/** A shorter admin token could be guessed despite the login throttle. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
/** HMAC-SHA256 cookie signatures are only as strong as a key of at least the hash's size. */
export const MIN_SESSION_SECRET_BYTES = 32;
export const DEFAULT_LOGIN_FAILURES_PER_MINUTE = 30;
export const DEFAULT_HEAP_SERVER = 'heapanalytics.com';
/** Where the app mounts the Heap emulator in the zero-config sandbox. */
export const SANDBOX_EMULATOR_PATH = '/heap-emulator';
export const SANDBOX_CLIENT_ID = 'local-sandbox';

/** process.env over the `.env` file in `cwd` (real environment variables win, as with dotenv). */
export function readEnvironment(cwd: string = process.cwd()): Environment {
  const file = path.join(cwd, '.env');
  const fromFile = existsSync(file) ? dotenv.parse(readFileSync(file)) : {};
  return { ...fromFile, ...process.env };
}

/** Validates the environment; in development fills the gaps, in production names them. */
export function loadConfig(
  env: Environment = readEnvironment(),
  cwd = process.cwd(),
): ConfigResult {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';
  const dataDir = path.resolve(cwd, nonEmpty(env.DATA_DIR) ?? DEFAULT_DATA_DIR);

  const port = integer(env, 'PORT', DEFAULT_PORT, 0, 65535, problems);
  const listen = listenConfig(env, production, problems);
  const toleranceOldS = integer(
    env,
    'WEBHOOK_TOLERANCE_PAST_SECONDS',
    DEFAULT_TOLERANCE_OLD_MS / 1000,
    0,
    86_400,
    problems,
  );
  const toleranceAheadS = integer(
    env,
    'WEBHOOK_TOLERANCE_FUTURE_SECONDS',
    DEFAULT_TOLERANCE_AHEAD_MS / 1000,
    0,
    86_400,
    problems,
  );
  const busyTimeoutMs = integer(env, 'SQLITE_BUSY_TIMEOUT_MS', 5000, 0, 600_000, problems);
  const retryAfterSeconds = integer(env, 'RETRY_AFTER_SECONDS', 5, 1, 3600, problems);
  const bodyLimitBytes = byteSize(env, 'WEBHOOK_BODY_LIMIT', DEFAULT_BODY_LIMIT, problems);
  // Unset, it grows with a raised body limit so that one body of the largest size always fits.
  const maxInflightBytes =
    nonEmpty(env.WEBHOOK_MAX_INFLIGHT_BYTES) === undefined
      ? Math.max(bytes.parse(DEFAULT_MAX_INFLIGHT_BYTES) as number, bodyLimitBytes)
      : byteSize(env, 'WEBHOOK_MAX_INFLIGHT_BYTES', DEFAULT_MAX_INFLIGHT_BYTES, problems);
  if (bodyLimitBytes > 0 && maxInflightBytes > 0 && maxInflightBytes < bodyLimitBytes) {
    problems.push(
      `WEBHOOK_MAX_INFLIGHT_BYTES (${maxInflightBytes} bytes) must be at least WEBHOOK_BODY_LIMIT (${bodyLimitBytes} bytes), or a body of the largest accepted size could never be read`,
    );
  }
  const http = httpLimits(env, problems);
  const postgres = postgresConfig(env, problems);
  const retention: RetentionConfig = {
    deliveriesDays: integer(env, 'DELIVERIES_RETENTION_DAYS', 30, 0, 36_500, problems),
    syncTasksDays: integer(env, 'SYNC_TASK_RETENTION_DAYS', 30, 0, 36_500, problems),
    changesDays: integer(env, 'CHANGES_RETENTION_DAYS', 90, 0, 36_500, problems),
    intervalMinutes: integer(env, 'RETENTION_INTERVAL_MINUTES', 10, 1, 10_080, problems),
  };
  const oauthMaxPendingStates = integer(
    env,
    'OAUTH_MAX_PENDING_STATES',
    10_000,
    1,
    10_000_000,
    problems,
  );

  const current = nonEmpty(env.WEBHOOK_SECRET);
  const previous = nonEmpty(env.WEBHOOK_SECRET_PREVIOUS);
  let secrets: string[] = [];
  let secretSource: SecretSource = 'env';
  let secretFile: string | undefined;
  let generated: GeneratedSecret | undefined;
  if (current) {
    secrets = previous ? [current, previous] : [current];
  } else if (production) {
    problems.push(
      'WEBHOOK_SECRET is required when NODE_ENV=production (the Developers Hub shows it)',
    );
  } else if (problems.length === 0) {
    secretFile = path.join(dataDir, WEBHOOK_SECRET_FILE);
    generated = readOrCreateSecretFile(secretFile) as GeneratedSecret;
    secrets = [generated];
    secretSource = 'generated';
  }

  const publicUrl = origin(env, 'PUBLIC_URL', `http://localhost:${port}`, problems);
  const unknownIdToken = oneOf(env, 'UNKNOWN_ID_TOKEN', ['accept', 'reject'], 'accept', problems);
  const warnings: string[] = [];
  const trustProxy = trustProxySetting(env, production, problems, warnings);
  const secureCookies = production || publicUrl.startsWith('https:');
  const dataFile = (name: string) => path.join(dataDir, name);

  const configuredSessionSecret = nonEmpty(env.SESSION_SECRET);
  if (
    configuredSessionSecret !== undefined &&
    Buffer.byteLength(configuredSessionSecret, 'utf8') < MIN_SESSION_SECRET_BYTES
  ) {
    // A short key makes signed cookies (sessions, OAuth state) guessable offline. Never echo it.
    problems.push(
      `SESSION_SECRET must be at least ${MIN_SESSION_SECRET_BYTES} bytes (for example: openssl rand -base64 32)`,
    );
  }
  const sessionSecret =
    configuredSessionSecret ??
    (production || problems.length > 0
      ? ''
      : readOrCreateSecretFile(dataFile(SESSION_SECRET_FILE)));

  const admin = adminConfig(env, production, dataDir, problems);
  if (production && !sessionSecret) {
    warnings.push(
      'Dashboard sign-in is disabled until SESSION_SECRET is set; the admin API accepts ADMIN_TOKEN as a bearer token',
    );
  }

  let tokenEncryptionKey: Buffer | undefined;
  const rawKey = nonEmpty(env.TOKEN_ENCRYPTION_KEY);
  if (rawKey) {
    tokenEncryptionKey = parseKey(rawKey);
    if (!tokenEncryptionKey) {
      problems.push('TOKEN_ENCRYPTION_KEY must be 32 bytes as base64 (44 characters) or hex (64)');
    }
  } else if (!production && problems.length === 0) {
    tokenEncryptionKey = parseKey(readOrCreateKeyFile(dataFile(TOKEN_KEY_FILE)));
  }

  let tokenEncryptionKeyPrevious: Buffer | undefined;
  const rawPreviousKey = nonEmpty(env.TOKEN_ENCRYPTION_KEY_PREVIOUS);
  if (rawPreviousKey) {
    tokenEncryptionKeyPrevious = parseKey(rawPreviousKey);
    if (!tokenEncryptionKeyPrevious) {
      problems.push(
        'TOKEN_ENCRYPTION_KEY_PREVIOUS must be 32 bytes as base64 (44 characters) or hex (64)',
      );
    }
  }

  const heapServer = nonEmpty(env.HEAP_SERVER) ?? DEFAULT_HEAP_SERVER;
  if (/[/:]/.test(heapServer)) {
    problems.push(
      `HEAP_SERVER must be a host name such as ${DEFAULT_HEAP_SERVER} (got "${heapServer}")`,
    );
  }
  const timeoutMs = integer(env, 'HEAP_TIMEOUT_MS', 10_000, 1, 120_000, problems);
  const heapBaseUrl = origin(env, 'HEAP_BASE_URL', '', problems);
  if (production && heapBaseUrl !== '' && !heapBaseUrl.startsWith('https:')) {
    // The client secret, the code and the access token travel to this URL.
    problems.push(
      'HEAP_BASE_URL must be an https URL when NODE_ENV=production (http is only for a local Heap emulator in development)',
    );
  }
  const clientId = nonEmpty(env.CLIENT_ID);
  const sandbox = sandboxConfig(production, current !== undefined, clientId !== undefined, listen);
  if (sandbox.enabled && !listen.loopbackOnly) {
    warnings.push(
      `The sandbox (the Heap emulator at ${SANDBOX_EMULATOR_PATH}) answers beyond loopback (${listen.reason}): anyone who can reach this port can send test deliveries to this development store`,
    );
  }
  let oauth: OAuthConfig;
  if (sandbox.enabled) {
    oauth = {
      enabled: true,
      sandbox: true,
      clientId: SANDBOX_CLIENT_ID,
      clientSecret: randomBytes(24).toString('base64url'),
      redirectUri: `${publicUrl}/api/oauth_redirect`,
      heapBaseUrl: `${publicUrl}${SANDBOX_EMULATOR_PATH}`,
      timeoutMs,
    };
  } else {
    const required: Record<string, string | undefined> = {
      CLIENT_ID: clientId,
      CLIENT_SECRET: nonEmpty(env.CLIENT_SECRET),
      REDIRECT_URI: nonEmpty(env.REDIRECT_URI),
      TOKEN_ENCRYPTION_KEY: tokenEncryptionKey ? 'set' : undefined,
      SESSION_SECRET: sessionSecret || undefined,
    };
    const missing = Object.keys(required).filter((name) => !required[name]);
    if (missing.length > 0) {
      oauth = { enabled: false, missing };
      warnings.push(
        `OAuth (Connect Heap) is disabled until ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} set; webhooks still work`,
      );
    } else {
      oauth = {
        enabled: true,
        sandbox: false,
        clientId: clientId as string,
        clientSecret: required.CLIENT_SECRET as string,
        redirectUri: required.REDIRECT_URI as string,
        heapBaseUrl: heapBaseUrl || `https://${heapServer}`,
        timeoutMs,
      };
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      production,
      port,
      listen,
      // The sandbox is only on without WEBHOOK_SECRET, so a secret was generated: it is never Heap's.
      sandbox:
        sandbox.enabled && generated !== undefined
          ? { ...sandbox, webhookSecret: generated }
          : { enabled: false, reason: sandbox.reason },
      dataDir,
      logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
      webhook: {
        secrets,
        secretSource,
        secretFile,
        toleranceOldMs: toleranceOldS * 1000,
        toleranceAheadMs: toleranceAheadS * 1000,
        bodyLimitBytes,
        maxInflightBytes,
      },
      http,
      sqlite: { file: path.join(dataDir, 'heap-partner.sqlite'), busyTimeoutMs },
      postgres,
      retryAfterSeconds,
      publicUrl,
      trustProxy,
      secureCookies,
      hsts: publicUrl.startsWith('https:'),
      sessionSecret,
      admin,
      tokenEncryptionKey,
      tokenEncryptionKeyPrevious,
      oauth,
      unknownIdToken,
      retention,
      oauthMaxPendingStates,
      warnings,
    },
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

function sandboxConfig(
  production: boolean,
  webhookSecretSet: boolean,
  clientIdSet: boolean,
  listen: ListenConfig,
): { enabled: true; reason: string } | { enabled: false; reason: string } {
  if (production) return { enabled: false, reason: 'NODE_ENV=production' };
  const set = [webhookSecretSet && 'WEBHOOK_SECRET', clientIdSet && 'CLIENT_ID'].filter(
    (name): name is string => typeof name === 'string',
  );
  if (set.length > 0) {
    return { enabled: false, reason: `${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set` };
  }
  const reach = listen.loopbackOnly ? 'loopback only' : `beyond loopback: ${listen.reason}`;
  return { enabled: true, reason: `no WEBHOOK_SECRET, no CLIENT_ID, ${reach}` };
}

function adminConfig(
  env: Environment,
  production: boolean,
  dataDir: string,
  problems: string[],
): AdminConfig {
  const sessionHours = integer(env, 'ADMIN_SESSION_HOURS', 12, 1, 720, problems);
  const idleMinutes = integer(env, 'ADMIN_SESSION_IDLE_MINUTES', 60, 1, 43_200, problems);
  const base = {
    sessionTtlMs: sessionHours * 3_600_000,
    sessionIdleMs: idleMinutes * 60_000,
    loginFailuresPerMinute: integer(
      env,
      'ADMIN_LOGIN_FAILURES_PER_MINUTE',
      DEFAULT_LOGIN_FAILURES_PER_MINUTE,
      1,
      100_000,
      problems,
    ),
  };
  const token = nonEmpty(env.ADMIN_TOKEN)?.trim();
  if (token) {
    if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
      problems.push(
        `ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (for example: openssl rand -base64 32)`,
      );
    }
    return { ...base, token, tokenSource: 'env' };
  }
  if (production) {
    problems.push(
      'ADMIN_TOKEN is required when NODE_ENV=production (it protects the admin API and the dashboard; for example: openssl rand -base64 32)',
    );
    return { ...base, token: '', tokenSource: 'env' };
  }
  if (problems.length > 0) return { ...base, token: '', tokenSource: 'generated' };
  const tokenFile = path.join(dataDir, ADMIN_TOKEN_FILE);
  return { ...base, token: readOrCreateSecretFile(tokenFile), tokenSource: 'generated', tokenFile };
}

function httpLimits(env: Environment, problems: string[]): HttpLimits {
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

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as Express understands it. Unset trusts nothing. `true` would let every client
 * pick its own address with X-Forwarded-For (and so a fresh sign-in throttle bucket per guess):
 * refused in production, a warning in development.
 */
function trustProxySetting(
  env: Environment,
  production: boolean,
  problems: string[],
  warnings: string[],
): TrustProxy {
  const raw = nonEmpty(env.TRUST_PROXY)?.trim();
  if (raw === undefined || raw === 'false') return false;
  if (/^[0-9]+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 100) problems.push(`TRUST_PROXY hop count must be at most 100 (got "${raw}")`);
    return hops;
  }
  if (raw === 'true') {
    const why =
      'TRUST_PROXY=true trusts every X-Forwarded-For entry, so any client can claim any address and escape the admin sign-in throttle; set the number of proxies in front of the app instead (TRUST_PROXY=1 behind one load balancer) or their addresses/CIDRs';
    if (production) problems.push(why);
    else warnings.push(why);
    return true;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  const invalid = entries.filter(
    (entry) => !TRUST_PROXY_NAMES.has(entry) && !isAddressOrCidr(entry),
  );
  if (invalid.length > 0) {
    problems.push(
      `TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal (not understood: ${invalid.map((entry) => `"${entry}"`).join(', ')})`,
    );
    return false;
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^[0-9]{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Only the database settings, for tools that need nothing else (`npm run migrate` runs where the
 * webhook secret may not be set).
 */
export function loadDatabaseConfig(
  env: Environment = readEnvironment(),
): { ok: true; postgres: PostgresConfig | undefined } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const postgres = postgresConfig(env, problems);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, postgres };
}

function postgresConfig(env: Environment, problems: string[]): PostgresConfig | undefined {
  const url = nonEmpty(env.DATABASE_URL)?.trim();
  if (url === undefined) return undefined;
  const display = describeDatabaseUrl(url);
  if (display === undefined) {
    // The value may hold a password: name the variable, never echo it.
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const flag = nonEmpty(env.DATABASE_MIGRATE_ON_START) ?? 'true';
  if (!['true', 'false'].includes(flag)) {
    problems.push(`DATABASE_MIGRATE_ON_START must be true or false (got "${flag}")`);
  }
  return {
    url,
    display: display ?? '',
    poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000, problems),
    connectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600_000, problems),
    statementTimeoutMs: integer(
      env,
      'DATABASE_STATEMENT_TIMEOUT_MS',
      15_000,
      100,
      3_600_000,
      problems,
    ),
    migrateOnStart: flag !== 'false',
  };
}

/**
 * `host:port/database` of a PostgreSQL URL, without user or password, or undefined when the
 * value is not a postgres:// URL. A socket directory given as `?host=` is shown as the host.
 */
export function describeDatabaseUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return undefined;
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  const port = url.port || url.searchParams.get('port') || '5432';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
  return `${host}:${port}/${database}`;
}

/** A 32-byte key from base64 (44 chars) or hex (64 chars), or undefined if it is neither. */
export function parseKey(raw: string): Buffer | undefined {
  const value = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 32 && bytes.toString('base64') === value) return bytes;
  return undefined;
}

function readOrCreateKeyFile(file: string): string {
  const existing = readSecretFile(file);
  if (existing) return existing;
  // Same exclusive creation as secrets; the content is a base64 key instead of base64url text.
  return readOrCreateSecretFile(file, () => randomBytes(32).toString('base64'));
}

/**
 * Returns the secret stored in `file`, creating it (mode 0600, 32 random bytes, base64url) if
 * absent. Creation is exclusive, so two processes starting together agree on one secret.
 */
export function readOrCreateSecretFile(
  file: string,
  generate: () => string = () => randomBytes(32).toString('base64url'),
): string {
  const existing = readSecretFile(file);
  if (existing) return existing;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = generate();
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${secret}\n`);
    } finally {
      closeSync(fd);
    }
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readSecretFile(file) ?? secret;
  }
}

/** Reads a secret file written by readOrCreateSecretFile, or undefined if there is none. */
export function readSecretFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  return nonEmpty(readFileSync(file, 'utf8').trim());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function integer(
  env: Environment,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw.trim());
  if (!/^[0-9]+$/.test(raw.trim()) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return value;
}

function origin(env: Environment, name: string, fallback: string, problems: string[]): string {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  try {
    const url = new URL(raw.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return url.href.replace(/\/+$/, '');
  } catch {
    problems.push(`${name} must be an http(s) URL such as https://example.com (got "${raw}")`);
    return fallback;
  }
}

function oneOf<T extends string>(
  env: Environment,
  name: string,
  allowed: readonly T[],
  fallback: T,
  problems: string[],
): T {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
  return fallback;
}

function byteSize(env: Environment, name: string, fallback: string, problems: string[]): number {
  const raw = nonEmpty(env[name]) ?? fallback;
  const value = bytes.parse(raw.trim());
  if (value === null || !Number.isFinite(value) || value < 1024) {
    problems.push(`${name} must be a size such as 16mb or 1048576 of at least 1kb (got "${raw}")`);
    return 0;
  }
  return value;
}
