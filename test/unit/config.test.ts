// Configuration: defaults, validation, production refusals, generated development secret, .env.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  describeDatabaseUrl,
  loadConfig,
  loadDatabaseConfig,
  readEnvironment,
  readOrCreateSecretFile,
} from '../../src/config/index';
import request from 'supertest';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/server/logger';
import { createSandboxEmulator } from '../../src/server/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store';
import { signHeapHash } from '../../src/webhook/signature';
import { repoRoot } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

const PRODUCTION_ADMIN_TOKEN = 'a-production-admin-token';
const PRODUCTION_SESSION_SECRET = 'a-production-session-secret-of-32-bytes';
/** As the server loads it: the development secrets that do not exist yet are generated. */
const GENERATE = { createMissingSecrets: true };

describe('loadConfig', () => {
  it('needs nothing in development: defaults and a generated secret in DATA_DIR', () => {
    const cwd = tempDir();
    const result = loadConfig({}, cwd, GENERATE);
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
    const again = loadConfig({}, cwd, GENERATE);
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
      auditDays: 365,
      intervalMinutes: 10,
    });
    expect(result.config.staleSegmentHours).toBe(12);
    const day = loadConfig({ STALE_SEGMENT_HOURS: '24' }, tempDir());
    expect(day.ok && day.config.staleSegmentHours).toBe(24);
    const never = loadConfig({ STALE_SEGMENT_HOURS: '0', AUDIT_RETENTION_DAYS: 'x' }, tempDir());
    expect(never).toEqual({
      ok: false,
      problems: [
        expect.stringContaining('AUDIT_RETENTION_DAYS'),
        expect.stringContaining('STALE_SEGMENT_HOURS'),
      ],
    });
    expect(result.config.oauthMaxPendingStates).toBe(10_000);
  });

  it('takes 0 as keep forever, and refuses what is not a whole number in range', () => {
    const forever = loadConfig(
      {
        DELIVERIES_RETENTION_DAYS: '0',
        SYNC_TASK_RETENTION_DAYS: '0',
        CHANGES_RETENTION_DAYS: '0',
        AUDIT_RETENTION_DAYS: '0',
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
      auditDays: 0,
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
    const first = loadConfig({}, cwd, GENERATE);
    if (!first.ok) throw new Error(first.problems.join());
    const { admin } = first.config;
    expect(admin).toMatchObject({
      tokenSource: 'generated',
      tokenFile: path.join(cwd, 'data', 'admin-token'),
      sessionTtlMs: 12 * 3_600_000,
    });
    expect(admin.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(admin.tokenFile!).mode & 0o777).toBe(0o600);
    const again = loadConfig({}, cwd, GENERATE);
    expect(again.ok && again.config.admin.token).toBe(admin.token);
  });

  it('uses ADMIN_TOKEN and ADMIN_SESSION_HOURS from the environment', () => {
    const result = loadConfig(
      {
        NODE_ENV: 'production',
        WEBHOOK_SECRET: 's',
        ADMIN_TOKEN: `  ${PRODUCTION_ADMIN_TOKEN}  `,
        ADMIN_SESSION_HOURS: '2',
        ADMIN_SESSION_IDLE_MINUTES: '15',
        ADMIN_LOGIN_FAILURES_PER_MINUTE: '50',
        SESSION_SECRET: PRODUCTION_SESSION_SECRET,
      },
      tempDir(),
    );
    expect(result.ok && result.config.admin).toEqual({
      token: PRODUCTION_ADMIN_TOKEN,
      tokenSource: 'env',
      sessionTtlMs: 2 * 3_600_000,
      sessionIdleMs: 15 * 60_000,
      loginFailuresPerMinute: 50,
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

describe('secret strength and transport', () => {
  const production = {
    NODE_ENV: 'production',
    WEBHOOK_SECRET: 's',
    ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN,
  };
  const oauth = {
    CLIENT_ID: 'client',
    CLIENT_SECRET: 'client-secret',
    REDIRECT_URI: 'https://partner.example.com/api/oauth_redirect',
    TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    SESSION_SECRET: PRODUCTION_SESSION_SECRET,
  };

  it('refuses a SESSION_SECRET under 32 bytes in any environment, without echoing it', () => {
    const short = 'a-31-byte-session-secret-value!';
    expect(Buffer.byteLength(short)).toBe(31);
    for (const env of [{ ...production, SESSION_SECRET: short }, { SESSION_SECRET: short }]) {
      const result = loadConfig(env, tempDir());
      expect(!result.ok && result.problems).toEqual([
        'SESSION_SECRET must be at least 32 bytes (for example: openssl rand -base64 32)',
      ]);
      expect(JSON.stringify(result)).not.toContain(short);
    }
    const exact = 'x'.repeat(32);
    const accepted = loadConfig({ ...production, SESSION_SECRET: exact }, tempDir());
    expect(accepted.ok && accepted.config.sessionSecret).toBe(exact);
  });

  it('generates a development SESSION_SECRET of 32 random bytes', () => {
    const result = loadConfig({}, tempDir(), GENERATE);
    if (!result.ok) throw new Error(result.problems.join());
    expect(Buffer.from(result.config.sessionSecret, 'base64url')).toHaveLength(32);
  });

  it('refuses an http HEAP_BASE_URL in production, and takes it in development', () => {
    const refused = loadConfig(
      { ...production, ...oauth, HEAP_BASE_URL: 'http://heap.internal:3001' },
      tempDir(),
    );
    expect(!refused.ok && refused.problems).toEqual([
      expect.stringContaining('HEAP_BASE_URL must be an https URL when NODE_ENV=production'),
    ]);
    const https = loadConfig(
      { ...production, ...oauth, HEAP_BASE_URL: 'https://heap.example.com/' },
      tempDir(),
    );
    expect(https.ok && https.config.oauth).toMatchObject({
      enabled: true,
      heapBaseUrl: 'https://heap.example.com',
    });
    const development = loadConfig(
      { ...oauth, WEBHOOK_SECRET: 's', HEAP_BASE_URL: 'http://localhost:3001' },
      tempDir(),
    );
    expect(development.ok && development.config.oauth).toMatchObject({
      enabled: true,
      sandbox: false,
      heapBaseUrl: 'http://localhost:3001',
    });
  });
});

describe('files in DATA_DIR', () => {
  it('creates DATA_DIR 0700 and every generated secret 0600', () => {
    const cwd = tempDir();
    const result = loadConfig({}, cwd, GENERATE);
    if (!result.ok) throw new Error(result.problems.join());
    const dataDir = result.config.dataDir;
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const files = ['webhook-secret', 'session-secret', 'token-encryption-key', 'admin-token'];
    expect(readdirSync(dataDir).sort()).toEqual([...files].sort());
    for (const file of files) {
      expect([file, statSync(path.join(dataDir, file)).mode & 0o777]).toEqual([file, 0o600]);
    }
  });
});

describe('loading writes nothing unless asked (createMissingSecrets)', () => {
  /** Every path under `dir` with its mode and content, to compare before and after. */
  const listing = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .sort()
      .map((name) => {
        const file = path.join(dir, name);
        const stat = statSync(file);
        const content = stat.isFile() ? readFileSync(file, 'utf8') : '(directory)';
        return `${name} ${(stat.mode & 0o777).toString(8)} ${content}`;
      });

  it('in an empty working directory, creates neither DATA_DIR nor any secret file', () => {
    const cwd = tempDir();
    const before = listing(cwd);
    const result = loadConfig({}, cwd);
    expect(listing(cwd)).toEqual(before);
    expect(before).toEqual([]);
    if (!result.ok) throw new Error(result.problems.join());
    const { config } = result;
    const dataDir = path.join(cwd, 'data');
    // Reported, so that the caller can decide: generate them, or run without what needs them.
    expect(config.missingSecrets).toEqual([
      { variable: 'WEBHOOK_SECRET', file: path.join(dataDir, 'webhook-secret') },
      { variable: 'SESSION_SECRET', file: path.join(dataDir, 'session-secret') },
      { variable: 'ADMIN_TOKEN', file: path.join(dataDir, 'admin-token') },
      { variable: 'TOKEN_ENCRYPTION_KEY', file: path.join(dataDir, 'token-encryption-key') },
    ]);
    // Whatever needs a missing secret stays off: nothing is accepted with an empty one.
    expect(config.webhook).toMatchObject({ secrets: [], secretSource: 'generated' });
    expect(config.admin).toMatchObject({ token: '', tokenSource: 'generated' });
    expect(config.sessionSecret).toBe('');
    expect(config.tokenEncryptionKey).toBeUndefined();
    expect(config.sandbox).toEqual({
      enabled: false,
      reason: expect.stringContaining('the development secrets are not generated yet'),
    });
    expect(config.oauth).toMatchObject({ enabled: false });
  });

  it('gives an app that stays closed: every webhook 403, every admin request 401', async () => {
    const result = loadConfig({}, tempDir());
    if (!result.ok) throw new Error(result.problems.join());
    const store = new SqliteStore({ file: path.join(tempDir(), 'store.sqlite') });
    try {
      const app = createApp({ config: result.config, store, logger: createLogger('silent') });
      const body = JSON.stringify({
        action_type: 'segment.users.drain',
        data: { segment: { id: 1 } },
      });
      const webhook = await request(app)
        .post('/webhook')
        .set('Content-Type', 'application/json')
        .set('Heap-Hash', signHeapHash('any-secret', body, Date.now()))
        .send(body);
      expect([webhook.status, webhook.body.error]).toEqual([403, 'invalid_signature']);
      for (const authorization of [undefined, 'Bearer ', 'Bearer anything-at-all']) {
        const call = request(app).get('/api/segments');
        const admin = await (authorization ? call.set('Authorization', authorization) : call);
        expect([authorization, admin.status]).toEqual([authorization, 401]);
      }
    } finally {
      await store.close();
    }
  });

  it('reads the secrets generated earlier without touching DATA_DIR', () => {
    const cwd = tempDir();
    const generated = loadConfig({}, cwd, GENERATE);
    if (!generated.ok) throw new Error(generated.problems.join());
    expect(generated.config.missingSecrets).toEqual([]);
    const before = listing(cwd);
    const result = loadConfig({}, cwd);
    expect(listing(cwd)).toEqual(before);
    if (!result.ok) throw new Error(result.problems.join());
    expect(result.config.missingSecrets).toEqual([]);
    expect(result.config.webhook.secrets).toEqual(generated.config.webhook.secrets);
    expect(result.config.admin.token).toBe(generated.config.admin.token);
    expect(result.config.tokenEncryptionKey).toEqual(generated.config.tokenEncryptionKey);
    expect(result.config.sandbox).toMatchObject({
      enabled: true,
      webhookSecret: generated.config.webhook.secrets[0],
    });
  });

  it('generates only the missing secrets, and none at all for an invalid configuration', () => {
    const cwd = tempDir();
    expect(loadConfig({ PORT: 'eighty' }, cwd, GENERATE).ok).toBe(false);
    expect(listing(cwd)).toEqual([]);
    mkdirSync(path.join(cwd, 'data'));
    writeFileSync(path.join(cwd, 'data', 'admin-token'), 'an-admin-token-kept-as-it-is\n');
    const result = loadConfig({}, cwd, GENERATE);
    if (!result.ok) throw new Error(result.problems.join());
    expect(result.config.admin.token).toBe('an-admin-token-kept-as-it-is');
    expect(readdirSync(path.join(cwd, 'data')).sort()).toEqual([
      'admin-token',
      'session-secret',
      'token-encryption-key',
      'webhook-secret',
    ]);
  });

  it('refuses an empty secret file rather than running with a secret it cannot keep', () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'data'));
    writeFileSync(path.join(cwd, 'data', 'webhook-secret'), '\n');
    const result = loadConfig({}, cwd, GENERATE);
    expect(result).toEqual({
      ok: false,
      problems: [
        `${path.join(cwd, 'data', 'webhook-secret')} holds no secret: delete it so that a new one is generated, or set WEBHOOK_SECRET`,
      ],
    });
  });
});

describe('TRUST_PROXY', () => {
  const production = {
    NODE_ENV: 'production',
    WEBHOOK_SECRET: 'secret',
    ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN,
  };
  const trustProxy = (value: string | undefined, env: Record<string, string> = {}) => {
    const result = loadConfig({ ...env, TRUST_PROXY: value }, tempDir());
    return result.ok ? result.config.trustProxy : result.problems;
  };

  it('trusts nothing unless set, and takes a hop count or a list as Express does', () => {
    expect(trustProxy(undefined)).toBe(false);
    expect(trustProxy('false')).toBe(false);
    expect(trustProxy('1')).toBe(1);
    expect(trustProxy('2', production)).toBe(2);
    expect(trustProxy('loopback, 10.0.0.0/8,fd00::/8,203.0.113.7', production)).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '203.0.113.7',
    ]);
    expect(trustProxy('linklocal,uniquelocal')).toEqual(['linklocal', 'uniquelocal']);
  });

  it('refuses true in production, explaining the hop count; warns about it in development', () => {
    expect(trustProxy('true', production)).toEqual([
      expect.stringMatching(
        /TRUST_PROXY=true trusts every .*TRUST_PROXY=1 behind one load balancer/,
      ),
    ]);
    const development = loadConfig({ TRUST_PROXY: 'true' }, tempDir());
    expect(development.ok && development.config.trustProxy).toBe(true);
    expect(development.ok && development.config.warnings.join()).toMatch(/TRUST_PROXY=true/);
  });

  it('names entries it does not understand', () => {
    expect(trustProxy('10.0.0.0/33, proxy.internal,1.2.3.4')).toEqual([
      expect.stringContaining('"10.0.0.0/33", "proxy.internal"'),
    ]);
  });
});

describe('Secure cookies and HSTS', () => {
  it('follow an https PUBLIC_URL; production makes cookies Secure whatever the URL', () => {
    const config = (env: Record<string, string>) => {
      const result = loadConfig(env, tempDir());
      if (!result.ok) throw new Error(result.problems.join());
      return { secure: result.config.secureCookies, hsts: result.config.hsts };
    };
    expect(config({})).toEqual({ secure: false, hsts: false });
    expect(config({ PUBLIC_URL: 'https://partner.example' })).toEqual({ secure: true, hsts: true });
    expect(
      config({ NODE_ENV: 'production', WEBHOOK_SECRET: 's', ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN }),
    ).toEqual({ secure: true, hsts: false });
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

describe('HTTP server limits and the webhook body budget', () => {
  const load = (env: Record<string, string>) =>
    loadConfig({ WEBHOOK_SECRET: 's', ...env }, tempDir());

  it('defaults to short timeouts, a keep-alive above load balancers and a 64 MiB budget', () => {
    const result = load({});
    expect(result.ok && result.config.http).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      maxRequestsPerSocket: 1000,
    });
    expect(result.ok && result.config.webhook.maxInflightBytes).toBe(64 * 1024 * 1024);
  });

  it('reads each setting', () => {
    const result = load({
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_KEEPALIVE_TIMEOUT_MS: '120000',
      HTTP_MAX_REQUESTS_PER_SOCKET: '0',
      WEBHOOK_MAX_INFLIGHT_BYTES: '256mb',
    });
    expect(result.ok && result.config.http).toEqual({
      headersTimeoutMs: 2000,
      requestTimeoutMs: 3000,
      keepAliveTimeoutMs: 120_000,
      maxRequestsPerSocket: 0,
    });
    expect(result.ok && result.config.webhook.maxInflightBytes).toBe(256 * 1024 * 1024);
  });

  it('raises the default budget to a raised body limit, but refuses a budget set below it', () => {
    const raised = load({ WEBHOOK_BODY_LIMIT: '100mb' });
    expect(raised.ok && raised.config.webhook.maxInflightBytes).toBe(100 * 1024 * 1024);
    expect(load({ WEBHOOK_BODY_LIMIT: '16mb', WEBHOOK_MAX_INFLIGHT_BYTES: '8mb' })).toEqual({
      ok: false,
      problems: [
        expect.stringContaining(
          'WEBHOOK_MAX_INFLIGHT_BYTES (8388608 bytes) must be at least WEBHOOK_BODY_LIMIT',
        ),
      ],
    });
  });

  it('names every invalid limit, and a headers timeout above the request timeout', () => {
    const result = load({
      HTTP_HEADERS_TIMEOUT_MS: '40000',
      HTTP_KEEPALIVE_TIMEOUT_MS: 'forever',
      HTTP_MAX_REQUESTS_PER_SOCKET: '-1',
      WEBHOOK_MAX_INFLIGHT_BYTES: 'lots',
    });
    expect(!result.ok && result.problems).toEqual([
      expect.stringContaining('WEBHOOK_MAX_INFLIGHT_BYTES must be a size'),
      expect.stringContaining('HTTP_KEEPALIVE_TIMEOUT_MS must be a whole number from 1000'),
      expect.stringContaining('HTTP_MAX_REQUESTS_PER_SOCKET must be a whole number from 0'),
      expect.stringContaining(
        'HTTP_HEADERS_TIMEOUT_MS (40000) must not exceed HTTP_REQUEST_TIMEOUT_MS (30000)',
      ),
    ]);
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

describe('where the server listens (HOST)', () => {
  const listenOf = (env: Record<string, string>) => {
    const result = loadConfig(
      { WEBHOOK_SECRET: 's', ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN, ...env },
      tempDir(),
    );
    if (!result.ok) throw new Error(result.problems.join());
    return result.config.listen;
  };

  it('is loopback (both families) in development and every interface in production', () => {
    expect(listenOf({})).toEqual({
      hosts: ['127.0.0.1', '::1'],
      loopbackOnly: true,
      reason: 'loopback only, the development default',
    });
    expect(listenOf({ NODE_ENV: 'production' })).toMatchObject({ hosts: [], loopbackOnly: false });
  });

  it('takes HOST as one address or a comma-separated list, brackets allowed', () => {
    expect(listenOf({ HOST: '0.0.0.0' })).toEqual({
      hosts: ['0.0.0.0'],
      loopbackOnly: false,
      reason: 'HOST=0.0.0.0',
    });
    expect(listenOf({ HOST: '[::1], localhost' })).toMatchObject({
      hosts: ['::1', 'localhost'],
      loopbackOnly: true,
    });
    expect(listenOf({ NODE_ENV: 'production', HOST: '127.0.0.1' })).toMatchObject({
      hosts: ['127.0.0.1'],
    });
  });

  it('refuses a HOST that is not an address or name', () => {
    const result = loadConfig({ HOST: 'http://0.0.0.0/' }, tempDir());
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join()).toContain('HOST must be an address or host name');
  });
});

describe('the sandbox (config.sandbox)', () => {
  const configOf = (env: Record<string, string>) => {
    const result = loadConfig(env, tempDir(), GENERATE);
    if (!result.ok) throw new Error(result.problems.join());
    return result.config;
  };

  it('is on only without WEBHOOK_SECRET and CLIENT_ID, with the generated secret', () => {
    const config = configOf({});
    expect(config.sandbox).toEqual({
      enabled: true,
      reason: 'no WEBHOOK_SECRET, no CLIENT_ID, loopback only',
      webhookSecret: config.webhook.secrets[0],
    });
    expect(config.webhook.secretSource).toBe('generated');
    expect(config.oauth).toMatchObject({ enabled: true, sandbox: true });
    expect(config.warnings).toEqual([]);
  });

  it('is off with WEBHOOK_SECRET; OAuth is then not configured, as in production', () => {
    const config = configOf({ WEBHOOK_SECRET: 'real' });
    expect(config.sandbox).toEqual({ enabled: false, reason: 'WEBHOOK_SECRET is set' });
    expect(config.oauth).toEqual({
      enabled: false,
      missing: ['CLIENT_ID', 'CLIENT_SECRET', 'REDIRECT_URI'],
    });
    expect(config.warnings.join()).toContain('OAuth (Connect Heap) is disabled until CLIENT_ID');
  });

  it('is off with CLIENT_ID, with both, and in production', () => {
    expect(configOf({ CLIENT_ID: 'c' }).sandbox).toEqual({
      enabled: false,
      reason: 'CLIENT_ID is set',
    });
    expect(configOf({ CLIENT_ID: 'c', WEBHOOK_SECRET: 'w' }).sandbox).toEqual({
      enabled: false,
      reason: 'WEBHOOK_SECRET and CLIENT_ID are set',
    });
    expect(
      configOf({ NODE_ENV: 'production', WEBHOOK_SECRET: 'w', ADMIN_TOKEN: PRODUCTION_ADMIN_TOKEN })
        .sandbox,
    ).toEqual({ enabled: false, reason: 'NODE_ENV=production' });
  });

  it('counts a WEBHOOK_SECRET from .env like one from the environment', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), 'WEBHOOK_SECRET=from-dot-env\n');
    const result = loadConfig(readEnvironment(cwd), cwd);
    expect(result.ok && result.config.sandbox).toEqual({
      enabled: false,
      reason: 'WEBHOOK_SECRET is set',
    });
  });

  it('stays on beyond loopback (HOST=0.0.0.0) but warns that anyone reaching the port can use it', () => {
    const config = configOf({ HOST: '0.0.0.0' });
    expect(config.sandbox).toMatchObject({
      enabled: true,
      reason: 'no WEBHOOK_SECRET, no CLIENT_ID, beyond loopback: HOST=0.0.0.0',
    });
    expect(config.warnings.join()).toContain('anyone who can reach this port');
  });
});

describe('createSandboxEmulator', () => {
  it('builds no emulator unless the sandbox is on, and never one with an env secret', async () => {
    const dev = loadConfig({}, tempDir(), GENERATE);
    if (!dev.ok) throw new Error(dev.problems.join());
    const emulator = createSandboxEmulator(dev.config);
    expect(emulator).toBeDefined();
    await emulator?.close();
    const withSecret = loadConfig({ WEBHOOK_SECRET: 'real' }, tempDir());
    if (!withSecret.ok) throw new Error(withSecret.problems.join());
    expect(createSandboxEmulator(withSecret.config)).toBeUndefined();
    // A hand-made config that claims the sandbox with Heap's secret is refused outright.
    const forged = {
      ...dev.config,
      webhook: { ...dev.config.webhook, secretSource: 'env' as const, secrets: ['real'] },
    };
    expect(() => createSandboxEmulator(forged)).toThrow(/generated development secret/);
  });
});

describe('the one reader of process.env', () => {
  /** Source files under a top-level folder, recursively. */
  const sources = (folder: string): string[] =>
    readdirSync(path.join(repoRoot, folder), { recursive: true, encoding: 'utf8' })
      .filter((name) => /\.(ts|js)$/.test(name))
      .map((name) => path.join(folder, name));

  it('is src/config/env.ts: no other module of src, api, middleware or bin reads it', () => {
    const readers = ['src', 'api', 'middleware', 'bin'].flatMap(sources).filter((file) =>
      readFileSync(path.join(repoRoot, file), 'utf8')
        .split('\n')
        // Comments may name it; code may not.
        .some((line) => /process\.env\b/.test(line) && !/^\s*(\/\/|\/\*|\*)/.test(line)),
    );
    expect(readers).toEqual([path.join('src', 'config', 'env.ts')]);
  });
});
