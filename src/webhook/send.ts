// Sends one signed webhook over HTTP, as Heap does (or any request the checker crafts); shared by the CLI, the emulator and the checker.
import type { Readable } from 'node:stream';
import { signHeapHash } from './signature';

export type SendResult =
  | {
      ok: true;
      status: number;
      /** The response body, cut at maxResponseBytes. */
      body: string;
      /** Set when the body was longer than maxResponseBytes. */
      truncated?: boolean;
      /** Response headers, lower-case names (the checker looks for leaked values in them). */
      headers?: Record<string, string>;
      latencyMs: number;
    }
  | { ok: false; error: string; latencyMs: number };

/** What is read of a response body at most; the rest is never downloaded. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export type SendOptions = {
  url: string;
  secret: string;
  /** The exact bytes to send and sign. */
  body: string;
  /** Signing time (default now); the CLI shifts it to test the tolerance window. */
  timestampMs?: number;
  /** Bounds the whole exchange, the response body included. */
  timeoutMs?: number;
  /** Bytes of the (decoded) response body kept; the connection is dropped beyond them. */
  maxResponseBytes?: number;
};

/** POSTs `body` with a Heap-Hash header. Never throws: transport failures are a value. */
export function sendSignedWebhook(options: SendOptions): Promise<SendResult> {
  return sendWebhookRequest({
    url: options.url,
    body: options.body,
    heapHash: signHeapHash(options.secret, options.body, options.timestampMs ?? Date.now()),
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
  });
}

export type WebhookRequest = {
  url: string;
  /** Default POST; the checker also sends a GET. */
  method?: 'POST' | 'GET';
  /** The exact bytes to send (none for a GET). */
  body?: string;
  /** The Heap-Hash header as is, or undefined to send none: the checker sends broken ones. */
  heapHash?: string;
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Cancels the request (the checker's caller may give up on a run). */
  signal?: AbortSignal;
};

/**
 * Sends one request with whatever Heap-Hash header the caller built, the body byte for byte.
 * Never throws: transport failures, timeouts and cancellation are a value.
 */
export async function sendWebhookRequest(options: WebhookRequest): Promise<SendResult> {
  // Loaded on first use, so that merely importing this module (the app does) costs no memory.
  const { default: axios } = await import('axios');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = performance.now();
  // One deadline for headers and body alike: a server trickling its answer cannot hold us.
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), timeoutMs);
  const cancel = () => abort.abort();
  options.signal?.addEventListener('abort', cancel);
  if (options.signal?.aborted) abort.abort();
  try {
    const response = await axios.request<Readable>({
      url: options.url,
      method: options.method ?? 'POST',
      data: options.body,
      headers: {
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(options.heapHash === undefined ? {} : { 'Heap-Hash': options.heapHash }),
      },
      timeout: timeoutMs,
      signal: abort.signal,
      // axios trims JSON strings and JSON-encodes invalid ones; the signed bytes must go out as is.
      transformRequest: (data: string) => data,
      // Streamed, so only the first maxResponseBytes are ever read (decoded, so gzip is bounded too).
      responseType: 'stream',
      validateStatus: () => true,
      maxBodyLength: Infinity,
      maxRedirects: 0,
    });
    const read = await readCapped(
      response.data,
      options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    );
    // Drop the connection rather than download the rest of a large answer.
    if (read.truncated) abort.abort();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers as Record<string, unknown>)) {
      if (value !== undefined && value !== null) headers[name.toLowerCase()] = String(value);
    }
    return {
      ok: true,
      status: response.status,
      body: read.text,
      truncated: read.truncated,
      headers,
      latencyMs: performance.now() - started,
    };
  } catch (error) {
    const message = options.signal?.aborted
      ? 'cancelled'
      : abort.signal.aborted ||
          (axios.isAxiosError(error) &&
            (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT'))
        ? `timed out after ${timeoutMs} ms`
        : axios.isAxiosError(error)
          ? `${error.code ?? 'error'}: ${error.message}`
          : String(error);
    return { ok: false, error: message, latencyMs: performance.now() - started };
  } finally {
    clearTimeout(deadline);
    options.signal?.removeEventListener('abort', cancel);
  }
}

/** The first `maxBytes` of a stream as UTF-8, and whether there was more. */
async function readCapped(
  stream: Readable,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (size + bytes.length > maxBytes) {
      chunks.push(bytes.subarray(0, maxBytes - size));
      size = maxBytes;
      truncated = true;
      break;
    }
    chunks.push(bytes);
    size += bytes.length;
  }
  if (truncated) stream.destroy();
  return { text: Buffer.concat(chunks, size).toString('utf8'), truncated };
}
