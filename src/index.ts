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
} from './webhook/signature';
export { parseWebhookBody, type WebhookDelivery, type ParseResult } from './webhook/payload';
export {
  createHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
  type ReceiveInput,
  type ReceiveResult,
  type SyncDelivery,
  type DrainDelivery,
  type UnknownDelivery,
  type DeliveryInfo,
  type ReceiveStore,
} from './webhook/receive';
export { createApp, type AppDeps } from './app';
export { loadConfig, type Config } from './config/index';
export { SqliteStore } from './store/sqlite/store';
export { PostgresStore } from './store/postgres/store';
export { openStore } from './store';
export type { Store } from './store/types';
export { readAccessToken, resealAccessTokens, tokenKeys } from './oauth/accessTokens';
export type { TokenKeys } from './oauth/tokenCipher';
