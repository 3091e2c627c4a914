// Heap's OAuth provider without HTTP: authorization requests, single-use codes, tokens, connections.
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ResolvedClient } from './options';

/** The only scope Heap's Partner API knows. */
export const SCOPE = 'segment';
/** How long the consent page stays usable. */
const PENDING_TTL_MS = 10 * 60_000;
/** Spent codes are remembered this long so that a replay is told it is one. */
const SPENT_CODE_MEMORY_MS = 10 * 60_000;
const MAX_STATE_LENGTH = 2048;
const MAX_AUTHORIZED_BY_LENGTH = 254;
const ENV_ID_PATTERN = /^[0-9]{1,20}$/;

export type AuthorizeRequest = {
  client: ResolvedClient;
  redirectUri: string;
  state: string | undefined;
  /**
   * Set when the redirect URI was accepted for being on the request's own origin (the client's
   * sameOriginRedirectPath): the decision must then come from that origin too.
   */
  boundOrigin?: string;
};

export type Refusal = { ok: false; reason: string; message: string };

/** An OAuth 2 error answer: `error` is one of the RFC 6749 / 6750 codes. */
export type OAuthError = { ok: false; status: 400 | 401 | 403; error: string; description: string };

export type TokenResponse = { access_token: string; id_token: string; token_type: 'bearer' };

export type MetadataResponse = {
  env_id: string;
  partner_app_id: number;
  authorized_by: string;
  authorized_scope: typeof SCOPE;
  authorized_at_utc: string;
};

/** A customer environment that authorized a partner app. */
export type Connection = {
  idToken: string;
  envId: string;
  clientId: string;
  appName: string;
  partnerAppId: number;
  authorizedBy: string;
  authorizedAt: number;
};

type PendingAuthorization = AuthorizeRequest & { expiresAt: number };

type IssuedCode = {
  clientId: string;
  redirectUri: string;
  envId: string;
  authorizedBy: string;
  expiresAt: number;
  used: boolean;
};

export type Decision = { decision: unknown; envId: unknown; authorizedBy: unknown };

export class OAuthProvider {
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, IssuedCode>();
  private readonly connections = new Map<string, Connection>();
  /** (client, env) → id_token: an environment keeps its id_token when it authorizes again. */
  private readonly idTokens = new Map<string, string>();
  /** sha256(access token) → id_token; only digests are kept, so lookups reveal nothing. */
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly clients: readonly ResolvedClient[],
    private readonly now: () => number,
    private readonly codeTtlMs: number,
  ) {}

  /**
   * Checks a GET /authorize query; a refusal must be shown, never redirected to an unknown URI.
   * `requestOrigin` is the origin this request was addressed to (requestOrigin in hostCheck).
   */
  checkAuthorizeRequest(
    query: Record<string, unknown>,
    requestOrigin?: string,
  ): { ok: true; request: AuthorizeRequest } | Refusal {
    const params = singleValues(query, [
      'client_id',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
    ]);
    if (!params.ok) return params;
    const { client_id, redirect_uri, response_type, scope, state } = params.value;
    const client = this.clients.find((candidate) => candidate.clientId === client_id);
    if (client_id === undefined || !client) {
      return refusal(
        'unknown_client',
        client_id === undefined
          ? 'The request has no client_id.'
          : `No partner app is registered with client_id "${client_id}".`,
      );
    }
    const sameOrigin =
      client.sameOriginRedirectPath !== undefined && requestOrigin !== undefined
        ? `${requestOrigin}${client.sameOriginRedirectPath}`
        : undefined;
    if (
      redirect_uri === undefined ||
      (redirect_uri !== client.redirectUri && redirect_uri !== sameOrigin)
    ) {
      return refusal(
        'redirect_uri_mismatch',
        sameOrigin === undefined
          ? `redirect_uri must be exactly the one registered for ${client.appName}: ${client.redirectUri}`
          : `redirect_uri must be exactly ${sameOrigin} (this address) or the one registered for ${client.appName}: ${client.redirectUri}`,
      );
    }
    if (response_type !== 'code') {
      return refusal('unsupported_response_type', 'response_type must be "code".');
    }
    if (scope !== SCOPE) return refusal('invalid_scope', `scope must be "${SCOPE}".`);
    if (state !== undefined && state.length > MAX_STATE_LENGTH) {
      return refusal('invalid_request', `state must be at most ${MAX_STATE_LENGTH} characters.`);
    }
    const boundOrigin = redirect_uri === client.redirectUri ? undefined : requestOrigin;
    return { ok: true, request: { client, redirectUri: redirect_uri, state, boundOrigin } };
  }

  /** Holds a checked request until the person decides; the nonce is the consent form's key. */
  beginAuthorization(request: AuthorizeRequest): { nonce: string; suggestedEnvId: string } {
    this.sweep();
    const nonce = randomToken();
    this.pending.set(nonce, { ...request, expiresAt: this.now() + PENDING_TTL_MS });
    return { nonce, suggestedEnvId: String(randomInt(1_000_000_000, 10_000_000_000)) };
  }

  /**
   * Applies Approve or Deny; answers where to send the browser. A nonce works once.
   * `requestOrigin` is the origin the decision was posted to: a consent bound to another origin
   * is refused, so a form opened at an address of someone's choosing (a spoofed Host) cannot be
   * submitted from a victim's browser to send it there.
   */
  decide(
    nonce: unknown,
    input: Decision,
    requestOrigin?: string,
  ): { ok: true; location: string } | Refusal {
    const pending = typeof nonce === 'string' ? this.pending.get(nonce) : undefined;
    if (!pending || pending.expiresAt <= this.now()) {
      return refusal(
        'unknown_request',
        'This authorization request is no longer valid. Start again from the partner app.',
      );
    }
    if (pending.boundOrigin !== undefined && pending.boundOrigin !== requestOrigin) {
      return refusal(
        'origin_mismatch',
        'This authorization was started at another address. Start again from the partner app.',
      );
    }
    if (input.decision !== 'approve' && input.decision !== 'deny') {
      return refusal('invalid_request', 'Choose Approve or Deny.');
    }
    const location = new URL(pending.redirectUri);
    if (input.decision === 'deny') {
      this.pending.delete(nonce as string);
      location.searchParams.set('error', 'access_denied');
    } else {
      const envId = typeof input.envId === 'string' ? input.envId.trim() : '';
      const authorizedBy = typeof input.authorizedBy === 'string' ? input.authorizedBy.trim() : '';
      if (!ENV_ID_PATTERN.test(envId)) {
        return refusal('invalid_request', 'The environment id must be 1 to 20 digits.');
      }
      if (authorizedBy === '' || authorizedBy.length > MAX_AUTHORIZED_BY_LENGTH) {
        return refusal(
          'invalid_request',
          `Signed in as must be 1 to ${MAX_AUTHORIZED_BY_LENGTH} characters.`,
        );
      }
      this.pending.delete(nonce as string);
      const code = randomToken();
      this.codes.set(code, {
        clientId: pending.client.clientId,
        redirectUri: pending.redirectUri,
        envId,
        authorizedBy,
        expiresAt: this.now() + this.codeTtlMs,
        used: false,
      });
      location.searchParams.set('code', code);
    }
    if (pending.state !== undefined) location.searchParams.set('state', pending.state);
    return { ok: true, location: location.toString() };
  }

  /** The token endpoint's logic: client authentication, then the code's single, timely use. */
  exchangeCode(body: Record<string, unknown>): { ok: true; body: TokenResponse } | OAuthError {
    const params = singleValues(body, [
      'grant_type',
      'code',
      'redirect_uri',
      'client_id',
      'client_secret',
    ]);
    if (!params.ok) return oauthError(400, 'invalid_request', params.message);
    const { grant_type, code, redirect_uri, client_id, client_secret } = params.value;
    if (grant_type === undefined)
      return oauthError(400, 'invalid_request', 'grant_type is required.');
    if (grant_type !== 'authorization_code') {
      return oauthError(400, 'unsupported_grant_type', 'grant_type must be "authorization_code".');
    }
    const client = this.authenticate(client_id, client_secret);
    if (!client) {
      return oauthError(401, 'invalid_client', 'Client authentication failed.');
    }
    if (code === undefined) return oauthError(400, 'invalid_request', 'code is required.');
    if (redirect_uri === undefined) {
      return oauthError(400, 'invalid_request', 'redirect_uri is required.');
    }
    const issued = this.codes.get(code);
    if (!issued || issued.clientId !== client.clientId) {
      return oauthError(400, 'invalid_grant', 'The authorization code is not valid.');
    }
    if (issued.used) {
      return oauthError(400, 'invalid_grant', 'The authorization code has already been used.');
    }
    if (issued.expiresAt <= this.now()) {
      return oauthError(400, 'invalid_grant', 'The authorization code has expired.');
    }
    if (redirect_uri !== issued.redirectUri) {
      return oauthError(
        400,
        'invalid_grant',
        'redirect_uri differs from the one the code was issued for.',
      );
    }
    issued.used = true;
    const connection = this.connect(client, issued);
    const accessToken = randomToken();
    this.tokens.set(digest(accessToken), connection.idToken);
    return {
      ok: true,
      body: { access_token: accessToken, id_token: connection.idToken, token_type: 'bearer' },
    };
  }

  /** The metadata endpoint's logic: the bearer token must have been issued for this id_token. */
  metadata(
    idToken: string,
    authorization: string | undefined,
  ): { ok: true; body: MetadataResponse } | OAuthError {
    const match = /^Bearer +([^\s]+) *$/i.exec(authorization ?? '');
    if (!match) {
      return oauthError(
        401,
        'invalid_token',
        'An Authorization: Bearer <access_token> header is required.',
      );
    }
    const grantedIdToken = this.tokens.get(digest(match[1]));
    if (grantedIdToken === undefined) {
      return oauthError(401, 'invalid_token', 'The access token is not valid.');
    }
    const connection = this.connections.get(idToken);
    if (grantedIdToken !== idToken || !connection) {
      return oauthError(403, 'forbidden', 'The access token was not issued for this id_token.');
    }
    return {
      ok: true,
      body: {
        env_id: connection.envId,
        partner_app_id: connection.partnerAppId,
        authorized_by: connection.authorizedBy,
        authorized_scope: SCOPE,
        authorized_at_utc: new Date(connection.authorizedAt).toISOString(),
      },
    };
  }

  listConnections(): Connection[] {
    return [...this.connections.values()].sort((a, b) => b.authorizedAt - a.authorizedAt);
  }

  hasConnection(idToken: string): boolean {
    return this.connections.has(idToken);
  }

  private authenticate(clientId: string | undefined, secret: string | undefined) {
    const client = this.clients.find((candidate) => candidate.clientId === clientId);
    // Compare even for an unknown client, so timing does not tell which client ids exist.
    const matches = constantTimeEqual(secret ?? '', client?.clientSecret ?? randomToken());
    return client && secret !== undefined && matches ? client : undefined;
  }

  private connect(client: ResolvedClient, code: IssuedCode): Connection {
    const key = JSON.stringify([client.clientId, code.envId]);
    const idToken = this.idTokens.get(key) ?? randomUUID();
    this.idTokens.set(key, idToken);
    const connection: Connection = {
      idToken,
      envId: code.envId,
      clientId: client.clientId,
      appName: client.appName,
      partnerAppId: client.partnerAppId,
      authorizedBy: code.authorizedBy,
      authorizedAt: this.now(),
    };
    this.connections.set(idToken, connection);
    return connection;
  }

  private sweep(): void {
    const now = this.now();
    for (const [nonce, pending] of this.pending) {
      if (pending.expiresAt <= now) this.pending.delete(nonce);
    }
    for (const [code, issued] of this.codes) {
      if (issued.expiresAt + SPENT_CODE_MEMORY_MS <= now) this.codes.delete(code);
    }
  }
}

function refusal(reason: string, message: string): Refusal {
  return { ok: false, reason, message };
}

function oauthError(status: OAuthError['status'], error: string, description: string): OAuthError {
  return { ok: false, status, error, description };
}

/** Each named parameter as one string or absent; a repeated parameter is ambiguous, so refused. */
function singleValues<K extends string>(
  source: Record<string, unknown>,
  names: readonly K[],
): { ok: true; value: Record<K, string | undefined> } | Refusal {
  const value = {} as Record<K, string | undefined>;
  for (const name of names) {
    const raw = source[name];
    if (raw !== undefined && typeof raw !== 'string') {
      return refusal('invalid_request', `${name} must be given once, as a string.`);
    }
    value[name] = raw === '' ? undefined : raw;
  }
  return { ok: true, value };
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(a).digest(),
    createHash('sha256').update(b).digest(),
  );
}
