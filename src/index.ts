// The package's root entry: signing, verification and parsing; light, it loads no web framework or database driver.
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
} from './webhook/receive';
export type {
  Store,
  DeliveryStore,
  ConnectionStore,
  AdminQueries,
  MembershipStore,
  HealthProbe,
  HealthCheck,
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
