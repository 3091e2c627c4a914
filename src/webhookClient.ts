// Sends one signed webhook over HTTP, as Heap does; shared by the CLI and the emulator.
import { signHeapHash } from './signature';

export type SendResult =
  | { ok: true; status: number; body: string; latencyMs: number }
  | { ok: false; error: string; latencyMs: number };

export type SendOptions = {
  url: string;
  secret: string;
  /** The exact bytes to send and sign. */
  body: string;
  /** Signing time (default now); the CLI shifts it to test the tolerance window. */
  timestampMs?: number;
  timeoutMs?: number;
};

/** POSTs `body` with a Heap-Hash header. Never throws: transport failures are a value. */
export async function sendSignedWebhook(options: SendOptions): Promise<SendResult> {
  // Loaded on first use, so that merely importing this module (the app does) costs no memory.
  const { default: axios } = await import('axios');
  const started = performance.now();
  try {
    const response = await axios.post<string>(options.url, options.body, {
      headers: {
        'Content-Type': 'application/json',
        'Heap-Hash': signHeapHash(options.secret, options.body, options.timestampMs ?? Date.now()),
      },
      timeout: options.timeoutMs ?? 10_000,
      // axios trims JSON strings and JSON-encodes invalid ones; the signed bytes must go out as is.
      transformRequest: (data: string) => data,
      responseType: 'text',
      transformResponse: (data: string) => data,
      validateStatus: () => true,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      maxRedirects: 0,
    });
    return {
      ok: true,
      status: response.status,
      body: response.data,
      latencyMs: performance.now() - started,
    };
  } catch (error) {
    const message = axios.isAxiosError(error)
      ? error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT'
        ? `timed out after ${options.timeoutMs ?? 10_000} ms`
        : `${error.code ?? 'error'}: ${error.message}`
      : String(error);
    return { ok: false, error: message, latencyMs: performance.now() - started };
  }
}
