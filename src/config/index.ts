// loadConfig: assembles one validated Config from env and `.env`, section by section; writes files only when asked.
import { adminSettings, type AdminConfig } from './admin';
import { integer, nonEmpty, readEnvironment, type Environment } from './env';
import { httpLimits, serverSettings, type HttpLimits, type ListenConfig } from './http';
import { metricsSettings, type MetricsConfig } from './metrics';
import { oauthSettings, type OAuthConfig, type SandboxConfig } from './oauth';
import { proxySettings, type TrustProxy } from './proxy';
import { retentionSettings, type RetentionConfig } from './retention';
import {
  createMissingSecrets,
  DevelopmentSecrets,
  resolveDataDir,
  type MissingSecret,
} from './secrets';
import { storeSettings, type PostgresConfig, type SqliteConfig } from './store';
import { webhookSettings, type WebhookConfig } from './webhook';

export * from './admin';
export * from './env';
export * from './http';
export * from './metrics';
export * from './oauth';
export * from './proxy';
export * from './retention';
export * from './secrets';
export * from './store';
export * from './webhook';

export type Config = {
  production: boolean;
  port: number;
  listen: ListenConfig;
  sandbox: SandboxConfig;
  dataDir: string;
  logLevel: string;
  webhook: WebhookConfig;
  /** Limits of the node:http server, so slow or idle clients cannot hold sockets for long. */
  http: HttpLimits;
  sqlite: SqliteConfig;
  /** Set when DATABASE_URL is: PostgreSQL replaces SQLite (many instances, one database). */
  postgres: PostgresConfig | undefined;
  /** Seconds a client is told to wait after a 503. */
  retryAfterSeconds: number;
  /** How long /readyz waits for the store's probe before answering 503. */
  readinessTimeoutMs: number;
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
  /** Signs cookies (OAuth state, admin sessions); empty in production without SESSION_SECRET. */
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
  /** Prometheus metrics (src/metrics): off unless METRICS_TOKEN or METRICS_PORT is set. */
  metrics: MetricsConfig;
  /**
   * A segment whose last completed sync task is older than this is stale (Heap syncs about every
   * 4 hours, so a day without one means the integration is silently broken).
   */
  staleSegmentHours: number;
  /**
   * Development secrets neither set nor generated yet (only without createMissingSecrets). What
   * needs one stays off, closed: no webhook is accepted without its secret, no admin token
   * matches '', no session or sandbox runs without theirs.
   */
  missingSecrets: MissingSecret[];
  /** Non-fatal problems to report at start-up. */
  warnings: string[];
};

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

export type LoadConfigOptions = {
  /**
   * Generate the development secrets that do not exist yet in DATA_DIR (created 0700, files
   * 0600), as `npm start` does; only when the rest of the configuration is valid.
   */
  createMissingSecrets?: boolean;
};

/**
 * Validates the environment; production names what is missing, development fills the gaps with
 * the secrets in DATA_DIR. Reads only, unless `createMissingSecrets` asks for the missing ones.
 */
export function loadConfig(
  env: Environment = readEnvironment(),
  cwd = process.cwd(),
  options: LoadConfigOptions = {},
): ConfigResult {
  const loaded = assemble(env, cwd);
  if (!options.createMissingSecrets || !loaded.ok) return loaded;
  if (loaded.config.missingSecrets.length === 0) return loaded;
  createMissingSecrets(loaded.config.missingSecrets);
  const reloaded = assemble(env, cwd);
  if (!reloaded.ok || reloaded.config.missingSecrets.length === 0) return reloaded;
  // Only a file that exists but is empty survives creation.
  return {
    ok: false,
    problems: reloaded.config.missingSecrets.map(
      ({ variable, file }) =>
        `${file} holds no secret: delete it so that a new one is generated, or set ${variable}`,
    ),
  };
}

function assemble(env: Environment, cwd: string): ConfigResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const production = env.NODE_ENV === 'production';
  const dataDir = resolveDataDir(env, cwd);
  const developmentSecrets = new DevelopmentSecrets(dataDir);

  const { port, listen, retryAfterSeconds, readinessTimeoutMs } = serverSettings(
    env,
    production,
    problems,
  );
  const { webhook, unknownIdToken, generated } = webhookSettings(
    env,
    production,
    developmentSecrets,
    problems,
  );
  const http = httpLimits(env, problems);
  const { sqlite, postgres } = storeSettings(env, dataDir, problems);
  const retention = retentionSettings(env, problems);
  const metrics = metricsSettings(env, port, problems, warnings);
  const staleSegmentHours = integer(env, 'STALE_SEGMENT_HOURS', 12, 1, 8760, problems);
  const proxy = proxySettings(env, production, port, problems, warnings);
  const { admin, sessionSecret } = adminSettings(
    env,
    production,
    developmentSecrets,
    problems,
    warnings,
  );
  // Last: the sandbox needs to know whether every development secret read above exists.
  const oauth = oauthSettings(
    env,
    production,
    {
      listen,
      publicUrl: proxy.publicUrl,
      sessionSecret,
      generatedWebhookSecret: generated,
      developmentSecrets,
    },
    problems,
    warnings,
  );

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      production,
      port,
      listen,
      sandbox: oauth.sandbox,
      dataDir,
      logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
      webhook,
      http,
      sqlite,
      postgres,
      retryAfterSeconds,
      readinessTimeoutMs,
      ...proxy,
      sessionSecret,
      admin,
      tokenEncryptionKey: oauth.tokenEncryptionKey,
      tokenEncryptionKeyPrevious: oauth.tokenEncryptionKeyPrevious,
      oauth: oauth.oauth,
      unknownIdToken,
      retention,
      oauthMaxPendingStates: oauth.oauthMaxPendingStates,
      metrics,
      staleSegmentHours,
      missingSecrets: developmentSecrets.missing,
      warnings,
    },
  };
}
