// Configuration: defaults, validation, production refusals, generated development secret, .env.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  describeDatabaseUrl,
  loadConfig,
  loadDatabaseConfig,
  readEnvironment,
  readOrCreateSecretFile,
} from '../../src/config';
import { tempDir } from '../support/testApp';

const PRODUCTION_ADMIN_TOKEN = 'a-production-admin-token';

describe('loadConfig', () => {
  it('needs nothing in development: defaults and a generated secret in DATA_DIR', () => {
    const cwd = tempDir();
    const result = loadConfig({}, cwd);
    if (!result.ok) throw new Error(result.problems.join());
    const { config } = result;
    expect(config).toMatchObject({
      production: false,
      port: 3000,
      dataDir: path.join(cwd, 'data'),
      retryAfterSeconds: 5,
      webhook: {
        secretSource: 'generated',
        secretFile: path.join(cwd, 'data', 'webhook-secret'),
        toleranceOldMs: 300_000,
        toleranceAheadMs: 60_000,
        bodyLimitBytes: 16 * 1024 * 1024,
      },
      sqlite: { file: path.join(cwd, 'data', 'heap-partner.sqlite') },
    });
    expect(config.webhook.secrets).toHaveLength(1);
    expect(statSync(config.webhook.secretFile!).mode & 0o777).toBe(0o600);
    // The same secret on the next start.
    const again = loadConfig({}, cwd);
    expect(again.ok && again.config.webhook.secrets).toEqual(config.webhook.secrets);
  });

  it('refuses production without WEBHOOK_SECRET or ADMIN_TOKEN, naming them', () => {
    expect(loadConfig({ NODE_ENV: 'production' }, tempDir())).toEqual({
      ok: false,
      problems: [
        expect.stringContaining('WEBHOOK_SECRET is required'),
        expect.stringContaining('ADMIN_TOKEN is required when NODE_ENV=production'),
      ],
    });
  });

  it('uses WEBHOOK_SECRET and WEBHOOK_SECRET_PREVIOUS, current first', () => {
    const result = loadConfig(
      {
        NODE_ENV: 'production',
        WEBHOOK_SECRET: 'new',
        WEBHOOK_SECRET_PREVIOUS: 'old',
        ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN,
      },
      tempDir(),
    );
    expect(result.ok && result.config.webhook).toMatchObject({
      secrets: ['new', 'old'],
      secretSource: 'env',
    });
  });

  it('reads tolerance, body limit, busy timeout and retry-after', () => {
    const result = loadConfig(
      {
        WEBHOOK_SECRET: 's',
        WEBHOOK_TOLERANCE_PAST_SECONDS: '60',
        WEBHOOK_TOLERANCE_FUTURE_SECONDS: '1',
        WEBHOOK_BODY_LIMIT: '32mb',
        SQLITE_BUSY_TIMEOUT_MS: '100',
        RETRY_AFTER_SECONDS: '30',
        PORT: '8080',
        DATA_DIR: '/tmp/elsewhere',
      },
      tempDir(),
    );
    expect(result.ok && result.config).toMatchObject({
      port: 8080,
      dataDir: '/tmp/elsewhere',
      retryAfterSeconds: 30,
      webhook: { toleranceOldMs: 60_000, toleranceAheadMs: 1000, bodyLimitBytes: 32 * 1024 * 1024 },
      sqlite: { busyTimeoutMs: 100 },
    });
  });

  it('lists every invalid value at once', () => {
    const result = loadConfig(
      { WEBHOOK_SECRET: 's', PORT: '70000', WEBHOOK_BODY_LIMIT: 'lots', RETRY_AFTER_SECONDS: '-1' },
      tempDir(),
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      expect.stringContaining('PORT must be a whole number from 0 to 65535'),
      expect.stringContaining('RETRY_AFTER_SECONDS'),
      expect.stringContaining('WEBHOOK_BODY_LIMIT'),
    ]);
  });
});

describe('retention settings', () => {
  it('keeps deliveries and sync tasks 30 days, changes 90, runs every 10 minutes', () => {
    const result = loadConfig({}, tempDir());
    if (!result.ok) throw new Error(result.problems.join());
    expect(result.config.retention).toEqual({
      deliveriesDays: 30,
      syncTasksDays: 30,
      changesDays: 90,
      intervalMinutes: 10,
    });
    expect(result.config.oauthMaxPendingStates).toBe(10_000);
  });

  it('takes 0 as keep forever, and refuses what is not a whole number in range', () => {
    const forever = loadConfig(
      {
        DELIVERIES_RETENTION_DAYS: '0',
        SYNC_TASK_RETENTION_DAYS: '0',
        CHANGES_RETENTION_DAYS: '0',
        RETENTION_INTERVAL_MINUTES: '1',
        OAUTH_MAX_PENDING_STATES: '50',
      },
      tempDir(),
    );
    if (!forever.ok) throw new Error(forever.problems.join());
    expect(forever.config.retention).toEqual({
      deliveriesDays: 0,
      syncTasksDays: 0,
      changesDays: 0,
      intervalMinutes: 1,
    });
    expect(forever.config.oauthMaxPendingStates).toBe(50);
    const bad = loadConfig(
      {
        CHANGES_RETENTION_DAYS: '-1',
        RETENTION_INTERVAL_MINUTES: '0',
        OAUTH_MAX_PENDING_STATES: 'lots',
      },
      tempDir(),
    );
    expect(bad).toEqual({
      ok: false,
      problems: [
        expect.stringContaining('CHANGES_RETENTION_DAYS'),
        expect.stringContaining('RETENTION_INTERVAL_MINUTES'),
        expect.stringContaining('OAUTH_MAX_PENDING_STATES'),
      ],
    });
  });
});

describe('admin settings', () => {
  it('generates a development admin token in DATA_DIR (mode 0600) and keeps it', () => {
    const cwd = tempDir();
    const first = loadConfig({}, cwd);
    if (!first.ok) throw new Error(first.problems.join());
    const { admin } = first.config;
    expect(admin).toMatchObject({
      tokenSource: 'generated',
      tokenFile: path.join(cwd, 'data', 'admin-token'),
      sessionTtlMs: 12 * 3_600_000,
    });
    expect(admin.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(admin.tokenFile!).mode & 0o777).toBe(0o600);
    const again = loadConfig({}, cwd);
    expect(again.ok && again.config.admin.token).toBe(admin.token);
  });

  it('uses ADMIN_TOKEN and ADMIN_SESSION_HOURS from the environment', () => {
    const result = loadConfig(
      {
        NODE_ENV: 'production',
        WEBHOOK_SECRET: 's',
        ADMIN_TOKEN: `  ${PRODUCTION_ADMIN_TOKEN}  `,
        ADMIN_SESSION_HOURS: '2',
        SESSION_SECRET: 'session',
      },
      tempDir(),
    );
    expect(result.ok && result.config.admin).toEqual({
      token: PRODUCTION_ADMIN_TOKEN,
      tokenSource: 'env',
      sessionTtlMs: 2 * 3_600_000,
    });
    expect(result.ok && result.config.warnings.join()).not.toContain('Dashboard sign-in');
  });

  it('refuses an ADMIN_TOKEN short enough to guess, in any environment', () => {
    const result = loadConfig({ ADMIN_TOKEN: 'short', ADMIN_SESSION_HOURS: '0' }, tempDir());
    expect(!result.ok && result.problems).toEqual([
      expect.stringContaining('ADMIN_SESSION_HOURS must be a whole number from 1 to 720'),
      expect.stringContaining('ADMIN_TOKEN must be at least 16 characters'),
    ]);
  });

  it('warns that dashboard sign-in is off in production without SESSION_SECRET', () => {
    const result = loadConfig(
      { NODE_ENV: 'production', WEBHOOK_SECRET: 's', ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN },
      tempDir(),
    );
    expect(result.ok && result.config.warnings).toContainEqual(
      expect.stringContaining('Dashboard sign-in is disabled until SESSION_SECRET is set'),
    );
  });
});

describe('DATABASE_URL', () => {
  it('keeps SQLite without it, and selects PostgreSQL with defaults when set', () => {
    const sqlite = loadConfig({ WEBHOOK_SECRET: 's' }, tempDir());
    expect(sqlite.ok && sqlite.config.postgres).toBeUndefined();
    const url = 'postgres://app:secret-pw@db.internal:6432/heap?sslmode=require';
    const result = loadConfig({ WEBHOOK_SECRET: 's', DATABASE_URL: url }, tempDir());
    expect(result.ok && result.config.postgres).toEqual({
      url,
      display: 'db.internal:6432/heap',
      poolSize: 10,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 15_000,
      migrateOnStart: true,
    });
  });

  it('reads pool size, timeouts and DATABASE_MIGRATE_ON_START', () => {
    const result = loadDatabaseConfig({
      DATABASE_URL: 'postgresql://db/heap',
      DATABASE_POOL_SIZE: '25',
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      DATABASE_STATEMENT_TIMEOUT_MS: '30000',
      DATABASE_MIGRATE_ON_START: 'false',
    });
    expect(result).toEqual({
      ok: true,
      postgres: expect.objectContaining({
        display: 'db:5432/heap',
        poolSize: 25,
        connectTimeoutMs: 1500,
        statementTimeoutMs: 30_000,
        migrateOnStart: false,
      }),
    });
  });

  it('refuses a bad value without ever repeating the URL (it may hold a password)', () => {
    const result = loadDatabaseConfig({
      DATABASE_URL: 'mysql://root:secret-pw@db/x',
      DATABASE_POOL_SIZE: '0',
      DATABASE_MIGRATE_ON_START: 'yes',
    });
    expect(result).toEqual({
      ok: false,
      problems: [
        'DATABASE_URL must be a postgres:// or postgresql:// URL',
        expect.stringContaining('DATABASE_MIGRATE_ON_START must be true or false'),
        expect.stringContaining('DATABASE_POOL_SIZE must be a whole number from 1 to 1000'),
      ],
    });
    expect(JSON.stringify(result)).not.toContain('secret-pw');
  });

  it('describes a URL by host, port and database only', () => {
    expect(describeDatabaseUrl('postgres://u:p@h/d')).toBe('h:5432/d');
    expect(describeDatabaseUrl('postgres:///heap?host=/var/run/postgresql')).toBe(
      '/var/run/postgresql:5432/heap',
    );
    expect(describeDatabaseUrl('postgres://u:p@[::1]:5433/')).toBe('[::1]:5433/(default database)');
    expect(describeDatabaseUrl('not a url')).toBeUndefined();
    expect(describeDatabaseUrl('https://h/d')).toBeUndefined();
  });
});

describe('readEnvironment', () => {
  it('reads .env, with real environment variables winning', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), 'HPA_TEST_ONLY_FILE=from-file\nPATH=from-file\n');
    const env = readEnvironment(cwd);
    expect(env.HPA_TEST_ONLY_FILE).toBe('from-file');
    expect(env.PATH).toBe(process.env.PATH);
  });
});

describe('readOrCreateSecretFile', () => {
  it('keeps an existing secret and creates missing directories', () => {
    const dir = path.join(tempDir(), 'nested');
    mkdirSync(dir);
    const file = path.join(dir, 'secret');
    writeFileSync(file, 'kept\n');
    expect(readOrCreateSecretFile(file)).toBe('kept');
    const created = readOrCreateSecretFile(path.join(dir, 'deeper', 'new'));
    expect(readFileSync(path.join(dir, 'deeper', 'new'), 'utf8').trim()).toBe(created);
  });
});
