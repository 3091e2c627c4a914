// The admin API's and dashboard's settings: the admin token, the session secret, session lifetimes, the sign-in throttle.
import { integer, nonEmpty, type Environment } from './env';
import type { DevelopmentSecrets } from './secrets';
import type { SecretSource } from './webhook';

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

/** A shorter admin token could be guessed despite the login throttle. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
/** HMAC-SHA256 cookie signatures are only as strong as a key of at least the hash's size. */
export const MIN_SESSION_SECRET_BYTES = 32;
export const DEFAULT_LOGIN_FAILURES_PER_MINUTE = 30;

export function adminSettings(
  env: Environment,
  production: boolean,
  developmentSecrets: DevelopmentSecrets,
  problems: string[],
  warnings: string[],
): { admin: AdminConfig; sessionSecret: string } {
  const sessionSecret = sessionSecretSetting(env, production, developmentSecrets, problems);
  const admin = adminConfig(env, production, developmentSecrets, problems);
  if (production && !sessionSecret) {
    warnings.push(
      'Dashboard sign-in is disabled until SESSION_SECRET is set; the admin API accepts ADMIN_TOKEN as a bearer token',
    );
  }
  return { admin, sessionSecret };
}

/** Signs cookies (OAuth state, admin sessions); empty only in production without SESSION_SECRET. */
function sessionSecretSetting(
  env: Environment,
  production: boolean,
  developmentSecrets: DevelopmentSecrets,
  problems: string[],
): string {
  const configured = nonEmpty(env.SESSION_SECRET);
  if (configured === undefined) {
    return production ? '' : (developmentSecrets.read('SESSION_SECRET').value ?? '');
  }
  if (Buffer.byteLength(configured, 'utf8') < MIN_SESSION_SECRET_BYTES) {
    // A short key makes signed cookies (sessions, OAuth state) guessable offline. Never echo it.
    problems.push(
      `SESSION_SECRET must be at least ${MIN_SESSION_SECRET_BYTES} bytes (for example: openssl rand -base64 32)`,
    );
  }
  return configured;
}

function adminConfig(
  env: Environment,
  production: boolean,
  developmentSecrets: DevelopmentSecrets,
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
  // Not generated yet: '' matches no presented token, so the admin API stays closed.
  const { value, file } = developmentSecrets.read('ADMIN_TOKEN');
  return { ...base, token: value ?? '', tokenSource: 'generated', tokenFile: file };
}
