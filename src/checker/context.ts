// What every check gets: signed requests to the target, fresh segment ids, and the admin reader; no check logic here.
import { randomInt, randomUUID } from 'node:crypto';
import { computeHeapHmac, signHeapHash } from '../webhook/signature';
import { buildSyncPage } from '../webhook/outgoing';
import { sendWebhookRequest, type SendResult } from '../webhook/send';
import { AdminReader } from './adminReader';

/** id_token the checker's payloads carry by default: its deliveries land in a tenant of their own. */
export const DEFAULT_CHECK_ID_TOKEN = 'heap-partner-api-check';
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** Characters of a response body shown in a scorecard: enough to recognise an error code. */
const EXCERPT_CHARS = 160;

/** A customer_config as Heap sends it, so receivers that read it see the usual shape. */
export const SAMPLE_CUSTOMER_CONFIG = {
  fields: [
    {
      field_id: 'audience',
      field_display_name: 'Audience',
      value: { id: 'audience_42', display_name: 'Conformance check' },
    },
  ],
};

export type Exchange = { result: SendResult; sent: string };

export type SyncSpec = {
  segmentId: number;
  syncTaskId?: string;
  page?: number;
  total?: number;
  add?: string[];
  remove?: string[];
};

export class CheckContext {
  readonly url: string;
  readonly secret: string;
  /** Undefined: the partner's own environment (no id_token in the payloads). */
  readonly idToken: string | undefined;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly admin?: AdminReader;
  // Segment ids fit a signed 32-bit integer: a receiver need not use 64-bit ids to pass.
  private nextSegment = 1_000_000_000 + randomInt(1_000_000_000);

  constructor(options: {
    url: string;
    secret: string;
    idToken: string | undefined;
    timeoutMs: number;
    signal?: AbortSignal;
    admin?: AdminReader;
  }) {
    this.url = options.url;
    this.secret = options.secret;
    this.idToken = options.idToken;
    this.timeoutMs = options.timeoutMs;
    this.signal = options.signal;
    this.admin = options.admin;
  }

  /** A segment id no other check of this run (nor, almost surely, any other run) uses. */
  segmentId(): number {
    return this.nextSegment++;
  }

  /** A sync page body as Heap sends it (compact JSON), in this run's tenant. */
  syncBody(spec: SyncSpec): string {
    return JSON.stringify(this.syncPage(spec));
  }

  syncPage(spec: SyncSpec) {
    return buildSyncPage({
      idToken: this.idToken,
      segment: { id: spec.segmentId, name: 'Conformance check' },
      syncTaskId: spec.syncTaskId ?? randomUUID(),
      pageNumber: spec.page ?? 1,
      totalPages: spec.total ?? 1,
      add: spec.add ?? [],
      remove: spec.remove ?? [],
      customerConfig: SAMPLE_CUSTOMER_CONFIG,
    });
  }

  /** The Heap-Hash Heap would send for `body` signed at `timestampMs` (default now). */
  sign(body: string, timestampMs = Date.now(), secret = this.secret): string {
    return signHeapHash(secret, body, timestampMs);
  }

  /** Values an error response must never contain for a request over `body` at `ts`. */
  secretsFor(body: string, ts: string): string[] {
    const base64 = computeHeapHmac(this.secret, ts, body);
    return [
      base64,
      Buffer.from(base64, 'base64').toString('hex'),
      base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
      this.secret,
    ];
  }

  /** POSTs `body` signed now, unless `heapHash` is given (null: no header at all). */
  async post(
    body: string,
    heapHash?: string | null,
    timeoutMs = this.timeoutMs,
  ): Promise<SendResult> {
    return sendWebhookRequest({
      url: this.url,
      body,
      heapHash: heapHash === null ? undefined : (heapHash ?? this.sign(body)),
      timeoutMs,
      signal: this.signal,
    });
  }

  get(): Promise<SendResult> {
    return sendWebhookRequest({
      url: this.url,
      method: 'GET',
      timeoutMs: this.timeoutMs,
      signal: this.signal,
    });
  }

  /**
   * "403 {"error":"invalid_signature",…}": the status and the start of the body on one line, with
   * the secret (and any value in `hide`) replaced, so a scorecard never carries it into CI logs.
   */
  describe(result: SendResult, hide: readonly string[] = []): string {
    if (!result.ok) return `no answer: ${result.error}`;
    let text = result.body.replace(/\s+/g, ' ').trim();
    for (const value of [this.secret, ...hide]) {
      if (value.length >= 8) text = text.split(value).join('[redacted]');
    }
    const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
    return `${result.status}${excerpt ? ` ${excerpt}` : ''} (${Math.round(result.latencyMs)} ms)`;
  }
}

export function is2xx(result: SendResult): boolean {
  return result.ok && result.status >= 200 && result.status <= 299;
}

export function is5xx(result: SendResult): boolean {
  return result.ok && result.status >= 500;
}
