// Public entry point for partners who import this package: signing, verification, parsing, the app.
export {
  signHeapHash,
  verifyHeapHash,
  parseHeapHash,
  checkHeapHashHeader,
  computeHeapHmac,
  DEFAULT_TOLERANCE_AHEAD_MS,
  DEFAULT_TOLERANCE_OLD_MS,
  type SignatureFailure,
  type VerifyOptions,
  type VerifyResult,
} from './signature';
export { parseWebhookBody, type WebhookDelivery, type ParseResult } from './payload';
export { createApp, type AppDeps } from './app';
export { loadConfig, type Config } from './config';
export { SqliteStore } from './store/sqlite';
export { PostgresStore } from './store/postgres';
export { openStore } from './store';
export type { Store } from './store/types';
export { readAccessToken, resealAccessTokens, tokenKeys } from './accessTokens';
export type { TokenKeys } from './tokenCipher';
