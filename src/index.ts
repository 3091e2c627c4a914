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
export { createApp, type AppDeps } from './app';
export { loadConfig, type Config } from './config/index';
export { SqliteStore } from './store/sqlite/store';
export { PostgresStore } from './store/postgres/store';
export { openStore } from './store';
export type {
  Store,
  DeliveryStore,
  ConnectionStore,
  AdminQueries,
  MembershipStore,
  AcceptedDelivery,
  ApplyOutcome,
  RejectedDelivery,
  Refusal,
  ChangeRecord,
  UserSegment,
  Page,
} from './store/types';
export {
  createMembership,
  type Membership,
  type MembersOptions,
  type ChangesOptions,
} from './store/membership';
export { readAccessToken, resealAccessTokens, tokenKeys } from './oauth/accessTokens';
export type { TokenKeys } from './oauth/tokenCipher';
