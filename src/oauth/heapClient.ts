// Heap's OAuth token exchange and metadata endpoints over axios; failures are values with reasons.
import type { AxiosResponse, AxiosStatic } from 'axios';

export type HeapEndpoint = { baseUrl: string; timeoutMs: number };

export type HeapFailureReason =
  | 'unreachable'
  | 'timeout'
  | 'http_error'
  | 'too_large'
  | 'not_json'
  | 'missing_fields'
  | 'bad_token_type';

/**
 * Heap's token and metadata answers are a few hundred bytes. Anything past this is not Heap
 * answering as documented, and reading it would only cost memory: the client stops at the limit
 * (counted after decompression, so a gzip bomb stops too).
 */
export const HEAP_RESPONSE_LIMIT_BYTES = 1024 * 1024;
/** Our requests are a form of five fields or a GET; a larger body would be a bug, not a token. */
const HEAP_REQUEST_LIMIT_BYTES = 64 * 1024;

export type HeapFailure = {
  ok: false;
  step: 'token' | 'metadata';
  reason: HeapFailureReason;
  /** A human explanation safe to show: never includes tokens or the client secret. */
  detail: string;
  status?: number;
};

export type TokenGrant = { ok: true; accessToken: string; idToken: string };

export type HeapMetadata = {
  envId: string;
  partnerAppId: string;
  authorizedBy: string;
  authorizedScope: string;
  authorizedAtUtc: string;
};

export async function exchangeCode(
  endpoint: HeapEndpoint,
  request: { code: string; redirectUri: string; clientId: string; clientSecret: string },
): Promise<TokenGrant | HeapFailure> {
  const result = await call('token', endpoint, (axios) =>
    axios.post(
      `${endpoint.baseUrl}/api/partner/oauth/token`,
      new URLSearchParams({
        grant_type: 'authorization_code',
        code: request.code,
        redirect_uri: request.redirectUri,
        client_id: request.clientId,
        client_secret: request.clientSecret,
      }).toString(),
      { ...options(endpoint), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
    ),
  );
  if (!result.ok) return result;
  const body = result.body;
  const missing = ['access_token', 'id_token', 'token_type'].filter(
    (field) => typeof body[field] !== 'string' || body[field] === '',
  );
  if (missing.length > 0) {
    return failure('token', 'missing_fields', `Heap's token answer lacks ${missing.join(', ')}.`);
  }
  if ((body.token_type as string).toLowerCase() !== 'bearer') {
    return failure('token', 'bad_token_type', 'Heap issued a token that is not a bearer token.');
  }
  return { ok: true, accessToken: body.access_token as string, idToken: body.id_token as string };
}

export async function fetchMetadata(
  endpoint: HeapEndpoint,
  idToken: string,
  accessToken: string,
): Promise<{ ok: true; metadata: HeapMetadata } | HeapFailure> {
  const result = await call('metadata', endpoint, (axios) =>
    axios.get(`${endpoint.baseUrl}/api/partner/v1/metadata/${encodeURIComponent(idToken)}`, {
      ...options(endpoint),
      headers: { Authorization: `Bearer ${accessToken}` },
    }),
  );
  if (!result.ok) return result;
  const body = result.body;
  const fields = [
    'env_id',
    'partner_app_id',
    'authorized_by',
    'authorized_scope',
    'authorized_at_utc',
  ];
  const missing = fields.filter((field) => !['string', 'number'].includes(typeof body[field]));
  if (missing.length > 0) {
    return failure('metadata', 'missing_fields', `Heap's metadata lacks ${missing.join(', ')}.`);
  }
  return {
    ok: true,
    metadata: {
      envId: String(body.env_id),
      partnerAppId: String(body.partner_app_id),
      authorizedBy: String(body.authorized_by),
      authorizedScope: String(body.authorized_scope),
      authorizedAtUtc: String(body.authorized_at_utc),
    },
  };
}

function options(endpoint: HeapEndpoint) {
  return {
    timeout: endpoint.timeoutMs,
    responseType: 'text' as const,
    transformResponse: (data: string) => data,
    validateStatus: () => true,
    // A redirect is answered as the failure it is, never followed to wherever it points (the
    // follow would resend the request, and its secrets, to a host we did not choose).
    maxRedirects: 0,
    maxContentLength: HEAP_RESPONSE_LIMIT_BYTES,
    maxBodyLength: HEAP_REQUEST_LIMIT_BYTES,
  };
}

async function call(
  step: HeapFailure['step'],
  endpoint: HeapEndpoint,
  send: (axios: AxiosStatic) => Promise<AxiosResponse<string>>,
): Promise<{ ok: true; body: Record<string, unknown> } | HeapFailure> {
  // Loaded on first use: a server that only receives webhooks never holds an HTTP client in memory.
  const { default: axios } = await import('axios');
  let response: AxiosResponse<string>;
  try {
    response = await send(axios);
  } catch (error) {
    if (
      axios.isAxiosError(error) &&
      (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT')
    ) {
      return failure(step, 'timeout', `Heap did not answer within ${endpoint.timeoutMs / 1000} s.`);
    }
    if (
      axios.isAxiosError(error) &&
      error.code === 'ERR_BAD_RESPONSE' &&
      error.message.includes('maxContentLength')
    ) {
      return failure(
        step,
        'too_large',
        `Heap's answer exceeded ${HEAP_RESPONSE_LIMIT_BYTES / 1024 / 1024} MiB; it was not read further.`,
      );
    }
    const code = axios.isAxiosError(error) ? (error.code ?? 'error') : 'error';
    return failure(step, 'unreachable', `Heap could not be reached (${code}).`);
  }
  if (response.status < 200 || response.status > 299) {
    return {
      ...failure(step, 'http_error', `Heap answered HTTP ${response.status}.`),
      status: response.status,
    };
  }
  try {
    const body: unknown = JSON.parse(response.data);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('shape');
    return { ok: true, body: body as Record<string, unknown> };
  } catch {
    return failure(step, 'not_json', 'Heap answered with something that is not a JSON object.');
  }
}

function failure(
  step: HeapFailure['step'],
  reason: HeapFailureReason,
  detail: string,
): HeapFailure {
  return { ok: false, step, reason, detail };
}
