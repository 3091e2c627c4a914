// The load generator: autocannon on this machine, each request built by the caller (unique pages).
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export type NextRequest = () => { path: string; headers: Record<string, string>; body?: Buffer };

export type LoadOptions = {
  url: string;
  method: 'GET' | 'POST';
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationSeconds: number;
  /** Stop after this many responses instead of after a duration (quick mode). */
  amount?: number;
  next: NextRequest;
};

export type LoadResult = {
  seconds: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
};

/** Exact percentile of sorted values (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Keeps `connections` requests in flight (one per connection, no pipelining) for the duration.
 * Latencies are taken from every response in full precision (autocannon's own histogram keeps
 * whole milliseconds), 2xx only, so a fast refusal cannot flatter the figures.
 */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  // autocannon's own duration is counted in whole sampling seconds; time the answers instead.
  let startedAt = performance.now();
  let lastAnswerAt = startedAt;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        duration: options.durationSeconds,
        amount: options.amount,
        timeout: 30,
        requests: [
          {
            method: options.method,
            setupRequest: (request) => ({ ...request, ...options.next() }),
          },
        ],
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        latencies.sort((a, b) => a - b);
        const statusCodes: Record<string, number> = {};
        for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
          statusCodes[code] = (stat as { count: number }).count;
        }
        resolve({
          seconds: (lastAnswerAt - startedAt) / 1000,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
          maxMs: latencies[latencies.length - 1] ?? NaN,
        });
      },
    );
    instance.on('start', () => (startedAt = performance.now()));
    instance.on('response', (_client, statusCode: number, _bytes, responseTime: number) => {
      lastAnswerAt = performance.now();
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}
