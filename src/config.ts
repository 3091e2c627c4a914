// Reads env and `.env` into one validated Config; the only module that looks at process.env.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import bytes from 'bytes';
import dotenv from 'dotenv';
import { DEFAULT_TOLERANCE_AHEAD_MS, DEFAULT_TOLERANCE_OLD_MS } from './signature';

export type Environment = Record<string, string | undefined>;

export type SecretSource = 'env' | 'generated';

export type Config = {
  production: boolean;
  port: number;
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
  };
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
  /** Express "trust proxy": whether X-Forwarded-* (https) from a load balancer is believed. */
  trustProxy: boolean;
  /** Signs cookies (OAuth state, admin sessions); empty only in production without SESSION_SECRET. */
  sessionSecret: string;
  admin: AdminConfig;
  /** AES-256-GCM key for access tokens at rest; undefined only when OAuth is not configured. */
  tokenEncryptionKey: Buffer | undefined;
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
export const WEBHOOK_SECRET_FILE = 'webhook-secret';
export const SESSION_SECRET_FILE = 'session-secret';
export const TOKEN_KEY_FILE = 'token-encryption-key';
export const ADMIN_TOKEN_FILE = 'admin-token';
/** A shorter admin token could be guessed despite the login throttle. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
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
  if (current) {
    secrets = previous ? [current, previous] : [current];
  } else if (production) {
    problems.push(
      'WEBHOOK_SECRET is required when NODE_ENV=production (the Developers Hub shows it)',
    );
  } else if (problems.length === 0) {
    secretFile = path.join(dataDir, WEBHOOK_SECRET_FILE);
    secrets = [readOrCreateSecretFile(secretFile)];
    secretSource = 'generated';
  }

  const publicUrl = origin(env, 'PUBLIC_URL', `http://localhost:${port}`, problems);
  const trustProxy = env.TRUST_PROXY === 'true' || env.TRUST_PROXY === '1';
  const unknownIdToken = oneOf(env, 'UNKNOWN_ID_TOKEN', ['accept', 'reject'], 'accept', problems);
  const warnings: string[] = [];
  const dataFile = (name: string) => path.join(dataDir, name);

  const sessionSecret =
    nonEmpty(env.SESSION_SECRET) ??
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

  const heapServer = nonEmpty(env.HEAP_SERVER) ?? DEFAULT_HEAP_SERVER;
  if (/[/:]/.test(heapServer)) {
    problems.push(
      `HEAP_SERVER must be a host name such as ${DEFAULT_HEAP_SERVER} (got "${heapServer}")`,
    );
  }
  const timeoutMs = integer(env, 'HEAP_TIMEOUT_MS', 10_000, 1, 120_000, problems);
  const clientId = nonEmpty(env.CLIENT_ID);
  let oauth: OAuthConfig;
  if (!production && !clientId) {
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
        heapBaseUrl: origin(env, 'HEAP_BASE_URL', '', problems) || `https://${heapServer}`,
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
      dataDir,
      logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
      webhook: {
        secrets,
        secretSource,
        secretFile,
        toleranceOldMs: toleranceOldS * 1000,
        toleranceAheadMs: toleranceAheadS * 1000,
        bodyLimitBytes,
      },
      sqlite: { file: path.join(dataDir, 'heap-partner.sqlite'), busyTimeoutMs },
      postgres,
      retryAfterSeconds,
      publicUrl,
      trustProxy,
      sessionSecret,
      admin,
      tokenEncryptionKey,
      oauth,
      unknownIdToken,
      retention,
      oauthMaxPendingStates,
      warnings,
    },
  };
}

function adminConfig(
  env: Environment,
  production: boolean,
  dataDir: string,
  problems: string[],
): AdminConfig {
  const sessionHours = integer(env, 'ADMIN_SESSION_HOURS', 12, 1, 720, problems);
  const base = { sessionTtlMs: sessionHours * 3_600_000 };
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
