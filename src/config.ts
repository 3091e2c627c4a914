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
  /** Seconds a client is told to wait after a 503. */
  retryAfterSeconds: number;
};

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

export const DEFAULT_PORT = 3000;
export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_BODY_LIMIT = '16mb';
export const WEBHOOK_SECRET_FILE = 'webhook-secret';

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
      retryAfterSeconds,
    },
  };
}

/**
 * Returns the secret stored in `file`, creating it (mode 0600, 32 random bytes, base64url) if
 * absent. Creation is exclusive, so two processes starting together agree on one secret.
 */
export function readOrCreateSecretFile(file: string): string {
  const existing = readSecretFile(file);
  if (existing) return existing;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
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

function byteSize(env: Environment, name: string, fallback: string, problems: string[]): number {
  const raw = nonEmpty(env[name]) ?? fallback;
  const value = bytes.parse(raw.trim());
  if (value === null || !Number.isFinite(value) || value < 1024) {
    problems.push(`${name} must be a size such as 16mb or 1048576 of at least 1kb (got "${raw}")`);
    return 0;
  }
  return value;
}
