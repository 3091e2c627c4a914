// Sign and verify Heap's `Heap-Hash` webhook header over the raw request bytes; no HTTP, no I/O.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Why a signature was refused. These are the only facts an unauthenticated caller learns. */
export type SignatureFailure =
  'missing_signature' | 'malformed_signature' | 'timestamp_out_of_tolerance' | 'invalid_signature';

/**
 * `hmac` as received (base64 or hex), `bytes` its 32 decoded bytes, `ts` as received and
 * `timestampMs` the signing time it means (seconds are scaled by magnitude, see below).
 */
export type ParsedHeapHash = { ts: string; hmac: string; bytes: Buffer; timestampMs: number };

/**
 * How a `Heap-Hash` header is written. Heap's current spec: base64 HMAC and `ts` in unix
 * milliseconds. Accepted as well (README, "What we accept beyond Heap's current spec"): a hex
 * HMAC and `ts` in unix seconds.
 */
export type HeapHashFormat = { hmac: 'base64' | 'hex'; ts: 'ms' | 's' };

export type VerifyResult =
  | {
      ok: true;
      /** Signing time in unix milliseconds. */
      timestampMs: number;
      /** Index into `secrets` of the one that matched (0 = current, 1 = previous during rotation). */
      secretIndex: number;
      /**
       * sha256 hex of the exact `ts` and `hmac` received: the same signed request sent again has
       * the same key, so a store can recognise a replay without keeping the HMAC itself.
       */
      signatureKey: string;
    }
  | { ok: false; reason: SignatureFailure };

export type VerifyOptions = {
  /** The raw `Heap-Hash` header value, or undefined when absent. */
  header: string | string[] | undefined;
  /** The request body exactly as received. */
  body: Buffer | string;
  /** Current secret first, then any previous one still accepted during a rotation. */
  secrets: readonly string[];
  /** How old a signature may be, in ms (default 300 s). */
  toleranceOldMs?: number;
  /** How far in the future a signature may be, in ms, for clock skew (default 60 s). */
  toleranceAheadMs?: number;
  /** Current time in unix ms (default Date.now()). */
  nowMs?: number;
};

export const DEFAULT_TOLERANCE_OLD_MS = 300_000;
export const DEFAULT_TOLERANCE_AHEAD_MS = 60_000;

const HMAC_BYTES = 32;
// Unix milliseconds (or seconds): digits only, at most 15 of them (year 33658), so Number() stays exact.
const TIMESTAMP_PATTERN = /^[0-9]{1,15}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const HEX_PATTERN = /^[0-9A-Fa-f]{64}$/;
/**
 * A `ts` below this is unix seconds, at or above it unix milliseconds. 10^11 ms is March 1973
 * and 10^11 s is the year 5138, so no signing time of this century is ambiguous: any real
 * millisecond timestamp is above it and any real second timestamp below it.
 */
export const SECONDS_BELOW = 100_000_000_000;

/** Computes the base64 HMAC-SHA256 Heap sends: keyed by the secret's UTF-8 bytes, over ts + body. */
export function computeHeapHmac(secret: string, ts: string, body: Buffer | string): string {
  return hmacBytes(secret, ts, body).toString('base64');
}

/** Builds a `Heap-Hash` header value for a body, as Heap would send it. */
export function signHeapHash(
  secret: string,
  body: Buffer | string,
  timestampMs: number = Date.now(),
  format: HeapHashFormat = { hmac: 'base64', ts: 'ms' },
): string {
  const ts = String(Math.trunc(format.ts === 's' ? timestampMs / 1000 : timestampMs));
  const hmac = hmacBytes(secret, ts, body).toString(format.hmac);
  return `ts:${ts},hmac:${hmac}`;
}

/**
 * Parses `ts:<ms>,hmac:<base64>`, and the published variants `ts:<unix seconds>` (told apart by
 * magnitude, SECONDS_BELOW) and `hmac:<64 hex digits>` (either case). Whitespace around pairs,
 * keys and values and the order of the two keys are tolerated; any other key, a repeated key, a
 * missing key or a value of the wrong shape is not.
 */
export function parseHeapHash(header: string): ParsedHeapHash | undefined {
  const fields = new Map<string, string>();
  for (const pair of header.split(',')) {
    const colon = pair.indexOf(':');
    if (colon < 0) return undefined;
    const key = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    if ((key !== 'ts' && key !== 'hmac') || fields.has(key)) return undefined;
    fields.set(key, value);
  }
  const ts = fields.get('ts');
  const hmac = fields.get('hmac');
  if (ts === undefined || hmac === undefined) return undefined;
  if (!TIMESTAMP_PATTERN.test(ts)) return undefined;
  const bytes = decodeHmac(hmac);
  if (!bytes) return undefined;
  const value = Number(ts);
  return { ts, hmac, bytes, timestampMs: value < SECONDS_BELOW ? value * 1000 : value };
}

export type HeaderCheckOptions = Omit<VerifyOptions, 'body' | 'secrets'>;

export type HeaderCheckResult =
  | { ok: true; parsed: ParsedHeapHash; timestampMs: number }
  | { ok: false; reason: Exclude<SignatureFailure, 'invalid_signature'> };

/**
 * Checks everything that can be checked without the body: presence, shape and timestamp. A
 * server can run it before reading a large body it would refuse anyway.
 */
export function checkHeapHashHeader(options: HeaderCheckOptions): HeaderCheckResult {
  const { header } = options;
  if (header === undefined || header === '') return { ok: false, reason: 'missing_signature' };
  // Several Heap-Hash headers cannot come from Heap; refuse rather than guess which one counts.
  if (typeof header !== 'string') return { ok: false, reason: 'malformed_signature' };
  const parsed = parseHeapHash(header);
  if (!parsed) return { ok: false, reason: 'malformed_signature' };

  const { timestampMs } = parsed;
  const nowMs = options.nowMs ?? Date.now();
  const toleranceOldMs = options.toleranceOldMs ?? DEFAULT_TOLERANCE_OLD_MS;
  const toleranceAheadMs = options.toleranceAheadMs ?? DEFAULT_TOLERANCE_AHEAD_MS;
  if (nowMs - timestampMs > toleranceOldMs || timestampMs - nowMs > toleranceAheadMs) {
    return { ok: false, reason: 'timestamp_out_of_tolerance' };
  }
  return { ok: true, parsed, timestampMs };
}

/**
 * Verifies a `Heap-Hash` header against the raw body. Never throws for bad input and never
 * returns the expected value: the result is either ok or one failure category.
 */
export function verifyHeapHash(options: VerifyOptions): VerifyResult {
  const checked = checkHeapHashHeader(options);
  if (!checked.ok) return checked;
  const { parsed, timestampMs } = checked;

  const received = parsed.bytes;
  let secretIndex = -1;
  // Every configured secret is tried, so the time taken does not depend on which one matched.
  options.secrets.forEach((secret, index) => {
    if (secret === '') return;
    const expected = hmacBytes(secret, parsed.ts, options.body);
    if (timingSafeEqual(expected, received) && secretIndex < 0) secretIndex = index;
  });
  if (secretIndex < 0) return { ok: false, reason: 'invalid_signature' };
  // Keyed by the decoded bytes in base64 (for a base64 header: exactly the received text, so keys
  // stored before hex was accepted still match), so a replay re-encoded in hex is the same key.
  const signatureKey = createHash('sha256')
    .update(`${parsed.ts}:${received.toString('base64')}`)
    .digest('hex');
  return { ok: true, timestampMs, secretIndex, signatureKey };
}

function hmacBytes(secret: string, ts: string, body: Buffer | string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(ts, 'utf8').update(body).digest();
}

/** The 32 HMAC bytes of a canonical base64 or a hex value; undefined for anything else. */
function decodeHmac(value: string): Buffer | undefined {
  if (HEX_PATTERN.test(value)) return Buffer.from(value, 'hex');
  if (value.length !== 44 || !BASE64_PATTERN.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === HMAC_BYTES && bytes.toString('base64') === value ? bytes : undefined;
}
