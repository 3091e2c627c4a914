// Development secrets in DATA_DIR: where each one lives, reading them, and generating the missing ones when asked.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { nonEmpty, type Environment } from './env';

export const DEFAULT_DATA_DIR = './data';
export const WEBHOOK_SECRET_FILE = 'webhook-secret';
export const SESSION_SECRET_FILE = 'session-secret';
export const TOKEN_KEY_FILE = 'token-encryption-key';
export const ADMIN_TOKEN_FILE = 'admin-token';

const randomText = () => randomBytes(32).toString('base64url');

/**
 * Each setting that development fills in by itself when it is not set: the file in DATA_DIR
 * that holds it and how a new one is made (the token key is a base64 AES-256 key).
 */
export const DEVELOPMENT_SECRETS = {
  WEBHOOK_SECRET: { file: WEBHOOK_SECRET_FILE, generate: randomText },
  SESSION_SECRET: { file: SESSION_SECRET_FILE, generate: randomText },
  TOKEN_ENCRYPTION_KEY: {
    file: TOKEN_KEY_FILE,
    generate: () => randomBytes(32).toString('base64'),
  },
  ADMIN_TOKEN: { file: ADMIN_TOKEN_FILE, generate: randomText },
} as const;

export type DevelopmentSecretName = keyof typeof DEVELOPMENT_SECRETS;

/** A development secret that is neither set nor generated yet. */
export type MissingSecret = { variable: DevelopmentSecretName; file: string };

/** DATA_DIR (default ./data) resolved against the working directory. */
export function resolveDataDir(env: Environment, cwd: string): string {
  return path.resolve(cwd, nonEmpty(env.DATA_DIR) ?? DEFAULT_DATA_DIR);
}

/**
 * The webhook secret a server with this environment verifies with: WEBHOOK_SECRET, else the
 * development one it generated in DATA_DIR. Only reads: a secret the server does not know
 * would only produce 403s. `source` is for messages (never the secret itself).
 */
export function findWebhookSecret(
  env: Environment,
  cwd: string,
): { secret: string; source: string } | { secret: undefined; file: string } {
  const fromEnv = nonEmpty(env.WEBHOOK_SECRET);
  if (fromEnv !== undefined) return { secret: fromEnv, source: 'WEBHOOK_SECRET' };
  const file = developmentSecretFile(resolveDataDir(env, cwd), 'WEBHOOK_SECRET');
  const secret = readSecretFile(file);
  return secret === undefined ? { secret, file } : { secret, source: file };
}

export function developmentSecretFile(dataDir: string, variable: DevelopmentSecretName): string {
  return path.join(dataDir, DEVELOPMENT_SECRETS[variable].file);
}

/**
 * Reads the development secrets of one DATA_DIR, noting the ones that do not exist yet so that
 * the caller can decide: generate them (createMissingSecrets) or run without what needs them.
 */
export class DevelopmentSecrets {
  readonly missing: MissingSecret[] = [];

  constructor(readonly dataDir: string) {}

  read(variable: DevelopmentSecretName): { value: string | undefined; file: string } {
    const file = developmentSecretFile(this.dataDir, variable);
    const value = readSecretFile(file);
    if (value === undefined) this.missing.push({ variable, file });
    return { value, file };
  }
}

/** Generates each missing secret (DATA_DIR 0700, files 0600); one another process made is kept. */
export function createMissingSecrets(missing: readonly MissingSecret[]): void {
  for (const { variable, file } of missing) {
    readOrCreateSecretFile(file, DEVELOPMENT_SECRETS[variable].generate);
  }
}

/**
 * Returns the secret stored in `file`, creating it (mode 0600, 32 random bytes, base64url) if
 * absent. Creation is exclusive, so two processes starting together agree on one secret.
 */
export function readOrCreateSecretFile(file: string, generate: () => string = randomText): string {
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
