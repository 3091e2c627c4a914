// The webhook receiver's settings: secrets (with rotation), signature tolerance, body limits, unknown id_tokens.
import bytes from 'bytes';
import { DEFAULT_TOLERANCE_AHEAD_MS, DEFAULT_TOLERANCE_OLD_MS } from '../webhook/signature';
import { byteSize, integer, nonEmpty, oneOf, type Environment } from './env';
import type { DevelopmentSecrets } from './secrets';

export type SecretSource = 'env' | 'generated';

declare const generatedSecret: unique symbol;
/**
 * The webhook secret generated for development (DATA_DIR/webhook-secret). loadConfig only
 * yields one when WEBHOOK_SECRET is not set: the sandbox emulator takes nothing else, so it
 * cannot be handed Heap's real secret.
 */
export type GeneratedSecret = string & { readonly [generatedSecret]: true };

export type WebhookConfig = {
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

export const DEFAULT_BODY_LIMIT = '16mb';
/**
 * Four 16 MiB bodies at once: a small share of a 2-core, 24 GiB machine (RSS stays near 200 MB
 * under attack), yet far more than Heap's own concurrency needs (pages of 100,000 users are ~3 MB).
 */
export const DEFAULT_MAX_INFLIGHT_BYTES = '64mb';

export function webhookSettings(
  env: Environment,
  production: boolean,
  developmentSecrets: DevelopmentSecrets,
  problems: string[],
): {
  webhook: WebhookConfig;
  unknownIdToken: 'accept' | 'reject';
  /** The development secret, when WEBHOOK_SECRET is not set and it exists. */
  generated: GeneratedSecret | undefined;
} {
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
  const unknownIdToken = oneOf(env, 'UNKNOWN_ID_TOKEN', ['accept', 'reject'], 'accept', problems);
  const limits = {
    toleranceOldMs: toleranceOldS * 1000,
    toleranceAheadMs: toleranceAheadS * 1000,
    bodyLimitBytes,
    maxInflightBytes,
  };

  const current = nonEmpty(env.WEBHOOK_SECRET);
  const previous = nonEmpty(env.WEBHOOK_SECRET_PREVIOUS);
  if (current) {
    const secrets = previous ? [current, previous] : [current];
    return {
      webhook: { secrets, secretSource: 'env', ...limits },
      unknownIdToken,
      generated: undefined,
    };
  }
  if (production) {
    problems.push(
      'WEBHOOK_SECRET is required when NODE_ENV=production (the Developers Hub shows it)',
    );
    return {
      webhook: { secrets: [], secretSource: 'env', ...limits },
      unknownIdToken,
      generated: undefined,
    };
  }
  const { value, file } = developmentSecrets.read('WEBHOOK_SECRET');
  return {
    webhook: {
      secrets: value === undefined ? [] : [value],
      secretSource: 'generated',
      secretFile: file,
      ...limits,
    },
    unknownIdToken,
    generated: value as GeneratedSecret | undefined,
  };
}
