// The soak's HTTP client: keep-alive requests to the server under test, timed to the last byte of the answer.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { NO_ANSWER } from './soakStats';

export type Answer = { status: number; body: Buffer; ms: number; error?: string };

export type RequestOptions = { headers?: Record<string, string>; body?: Buffer };

/**
 * One keep-alive pool for every request of the soak (large enough that the open-loop schedule is
 * never held back by it). A request that fails on a reused socket with ECONNRESET is sent once
 * more: the server closed that idle socket as the request went out (keep-alive timeout), a race
 * of the client's, not a server fault. Webhook POSTs are safe to resend (a page already applied
 * is answered as a duplicate).
 */
export class SoakClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  resentOnReusedSocket = 0;

  constructor(
    readonly baseUrl: string,
    private readonly adminToken: string,
  ) {}

  /** A GET with the admin API's bearer token. */
  admin(path: string): Promise<Answer> {
    return this.request('GET', path, { headers: { authorization: `Bearer ${this.adminToken}` } });
  }

  async request(method: 'GET' | 'POST', path: string, options: RequestOptions = {}) {
    const started = performance.now();
    let answer = await this.once(method, path, options);
    if (answer.error === 'reused_socket_reset') {
      this.resentOnReusedSocket++;
      answer = await this.once(method, path, options);
    }
    return { ...answer, ms: performance.now() - started };
  }

  private once(method: string, path: string, options: RequestOptions): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve) => {
      const request = http.request(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            ...options.headers,
            ...(options.body ? { 'content-length': String(options.body.length) } : {}),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? NO_ANSWER,
              body: Buffer.concat(chunks),
              ms: performance.now() - started,
            }),
          );
          response.on('error', (error) =>
            resolve({ status: NO_ANSWER, body: Buffer.alloc(0), ms: 0, error: error.message }),
          );
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        const reused = request.reusedSocket && error.code === 'ECONNRESET';
        resolve({
          status: NO_ANSWER,
          body: Buffer.alloc(0),
          ms: performance.now() - started,
          error: reused ? 'reused_socket_reset' : `${error.code ?? ''} ${error.message}`.trim(),
        });
      });
      request.end(options.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The JSON body of an answer, or undefined when it is not JSON. */
export function jsonOf<T>(answer: Answer): T | undefined {
  try {
    return JSON.parse(answer.body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
