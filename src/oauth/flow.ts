// The OAuth2 authorization-code flow with Heap: single-use state, code exchange, stored connection.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OAuthConfig } from '../config/index';
import { exchangeCode, fetchMetadata, type HeapFailure, type HeapMetadata } from './heapClient';
import type { ConnectionStore } from '../store/types';
import { encryptToken } from './tokenCipher';

export const STATE_TTL_MS = 10 * 60 * 1000;

export type EnabledOAuth = Extract<OAuthConfig, { enabled: true }>;

export type StateFailure = 'missing_state' | 'state_mismatch' | 'state_expired_or_used';

export type CompleteResult =
  | { ok: true; idToken: string; metadata: HeapMetadata; created: boolean }
  | { ok: false; kind: 'state'; reason: StateFailure }
  | { ok: false; kind: 'request'; reason: 'missing_code' }
  | { ok: false; kind: 'heap'; failure: HeapFailure };

function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

/**
 * Where this authorization sends the browser, when not the configured redirect URI and Heap: the
 * sandbox's, on the origin the browser used (see sandboxEndpointsFor).
 */
export type AuthorizationEndpoints = { redirectUri: string; authorizeBaseUrl: string };

/**
 * Starts an authorization: a fresh 256-bit state, remembered (hashed) until it expires. Anyone can
 * start one, so at most `maxPending` unexpired states are kept: beyond that it answers
 * `{ ok: false }` and stores nothing (the retention job deletes expired states).
 */
export async function beginAuthorization(
  store: ConnectionStore,
  oauth: EnabledOAuth,
  options: { maxPending: number; now?: number; endpoints?: AuthorizationEndpoints },
): Promise<{ ok: true; state: string; url: string; expiresAt: number } | { ok: false }> {
  const now = options.now ?? Date.now();
  const state = randomBytes(32).toString('base64url');
  const expiresAt = now + STATE_TTL_MS;
  const saved = await store.saveOAuthState(hashState(state), expiresAt, {
    now,
    maxPending: options.maxPending,
  });
  if (!saved) return { ok: false };
  const endpoints = options.endpoints;
  const url = new URL(
    `${endpoints?.authorizeBaseUrl ?? oauth.heapBaseUrl}/api/partner/oauth/authorize`,
  );
  url.search = new URLSearchParams({
    client_id: oauth.clientId,
    redirect_uri: endpoints?.redirectUri ?? oauth.redirectUri,
    response_type: 'code',
    scope: 'segment',
    state,
  }).toString();
  return { ok: true, state, url: url.href, expiresAt };
}

/**
 * Checks that the state Heap sent back is the one bound to this browser and unused, and uses it
 * up. Runs before any request to Heap.
 */
export async function consumeState(
  store: ConnectionStore,
  queryState: string | undefined,
  cookieState: string | undefined,
  now = Date.now(),
): Promise<{ ok: true } | { ok: false; reason: StateFailure }> {
  if (!queryState || !cookieState) return { ok: false, reason: 'missing_state' };
  const fromQuery = Buffer.from(hashState(queryState), 'hex');
  const fromCookie = Buffer.from(hashState(cookieState), 'hex');
  if (!timingSafeEqual(fromQuery, fromCookie)) return { ok: false, reason: 'state_mismatch' };
  if (!(await store.consumeOAuthState(hashState(queryState), now))) {
    return { ok: false, reason: 'state_expired_or_used' };
  }
  return { ok: true };
}

/**
 * Finishes the flow: state check, code exchange, metadata, then the connection is stored.
 * `redirectUri` is the one the authorization used when it was not the configured one.
 */
export async function completeAuthorization(
  deps: { store: ConnectionStore; oauth: EnabledOAuth; tokenKey: Buffer },
  params: {
    code?: string;
    queryState?: string;
    cookieState?: string;
    now?: number;
    redirectUri?: string;
  },
): Promise<CompleteResult> {
  const now = params.now ?? Date.now();
  const state = await consumeState(deps.store, params.queryState, params.cookieState, now);
  if (!state.ok) return { ok: false, kind: 'state', reason: state.reason };
  if (!params.code) return { ok: false, kind: 'request', reason: 'missing_code' };

  const endpoint = { baseUrl: deps.oauth.heapBaseUrl, timeoutMs: deps.oauth.timeoutMs };
  const grant = await exchangeCode(endpoint, {
    code: params.code,
    redirectUri: params.redirectUri ?? deps.oauth.redirectUri,
    clientId: deps.oauth.clientId,
    clientSecret: deps.oauth.clientSecret,
  });
  if (!grant.ok) return { ok: false, kind: 'heap', failure: grant };
  const meta = await fetchMetadata(endpoint, grant.idToken, grant.accessToken);
  if (!meta.ok) return { ok: false, kind: 'heap', failure: meta };

  const { created } = await deps.store.upsertConnection({
    idToken: grant.idToken,
    ...meta.metadata,
    accessTokenSealed: encryptToken(deps.tokenKey, grant.accessToken, grant.idToken),
    at: now,
  });
  return { ok: true, idToken: grant.idToken, metadata: meta.metadata, created };
}
