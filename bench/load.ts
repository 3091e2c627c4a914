// The load generators on this machine: autocannon (closed loop, unique pages) and a paced one for latency.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

/**
 * Added to the server's environment wherever autocannon loads it. autocannon ignores
 * `Connection: close`: after the server's last answer on a connection (HTTP_MAX_REQUESTS_PER_SOCKET,
 * 1,000 by default) it writes one more request there, reconnects when the socket closes, and keeps
 * the lost request's start time queued, so every later answer on that connection is timed from the
 * request before it. Latencies then grew by one service time per 1,000 requests a connection (the
 * grown windows' p50 went 62 -> 129 -> 204 ms while pages/s held). Its `reconnectRate` avoids the
 * lost request but drops the answer it reconnects on from the count. HTTP clients that honour
 * `Connection: close` (Heap's, Node's agent, the soak's) never see this; the limit costs one
 * loopback connect per 1,000 requests, so the bench turns it off rather than mis-time every answer.
 */
export const AUTOCANNON_SERVER_ENV = { HTTP_MAX_REQUESTS_PER_SOCKET: '0' } as const;

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

export type PacedOptions = {
  url: string;
  /** Requests per second, sent on schedule whether or not earlier ones were answered. */
  rate: number;
  seconds: number;
  next: () => { path: string; headers: Record<string, string> };
};

/** How often the paced generator sends the requests that fell due. */
const PACE_TICK_MS = 2;

/**
 * Open-loop load for latency: GETs go out at a fixed rate whether or not earlier ones were
 * answered (a pool of keep-alive sockets large enough never to hold one back), so a stalled
 * server is charged for every request it delays (no coordinated omission). autocannon's own rate
 * limit releases each second's requests in a burst, which measures queueing instead.
 */
export function runPaced(options: PacedOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  const total = Math.round(options.rate * options.seconds);
  let sent = 0;
  let settled = 0;
  let errors = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    const finish = () => {
      agent.destroy();
      latencies.sort((a, b) => a - b);
      const ok = latencies.length;
      resolve({
        seconds: (performance.now() - started) / 1000,
        ok,
        non2xx: settled - ok - errors,
        errors,
        timeouts: 0,
        statusCodes,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies[ok - 1] ?? NaN,
      });
    };
    const settle = () => {
      if (++settled === total) finish();
    };
    const send = () => {
      const { path, headers } = options.next();
      const sentAt = performance.now();
      http
        .get(`${options.url}${path}`, { agent, headers }, (response) => {
          response.resume();
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            if (status >= 200 && status < 300) latencies.push(performance.now() - sentAt);
            settle();
          });
        })
        .on('error', () => {
          errors++;
          settle();
        });
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) / 1000) * options.rate) + 1);
      for (; sent < due; sent++) send();
      if (sent < total) setTimeout(tick, PACE_TICK_MS);
    };
    tick();
  });
}

export type WindowedLoadOptions = {
  url: string;
  connections: number;
  windows: number;
  windowSeconds: number;
  next: NextRequest;
  /** Called at the end of each window (by wall clock), for the figures sampled then. */
  atWindowEnd: (index: number) => void;
};

export type WindowLoad = {
  seconds: number;
  ok: number;
  non2xx: number;
  errors: number;
  latencies: number[];
};

/**
 * One closed-loop run (as runLoad) of windows × windowSeconds, its answers put in the window of
 * the wall-clock moment they came (windowIndex): no gap between windows, and a page in flight at a
 * boundary counts in the window that answered it. The last window also holds the answers that
 * came after the run's end (the ones in flight when autocannon stopped sending).
 */
export function runWindowedLoad(options: WindowedLoadOptions): Promise<WindowLoad[]> {
  const windows: WindowLoad[] = Array.from({ length: options.windows }, () => ({
    seconds: options.windowSeconds,
    ok: 0,
    non2xx: 0,
    errors: 0,
    latencies: [],
  }));
  let startedAt = performance.now();
  let lastAnswerAt = startedAt;
  const timers: NodeJS.Timeout[] = [];
  const at = (now: number) =>
    windows[windowIndex(now - startedAt, options.windowSeconds, options.windows)];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        duration: options.windows * options.windowSeconds,
        timeout: 30,
        requests: [
          { method: 'POST', setupRequest: (request) => ({ ...request, ...options.next() }) },
        ],
      },
      (error) => {
        for (const timer of timers) clearTimeout(timer);
        if (error) {
          reject(error);
          return;
        }
        const last = windows[windows.length - 1];
        last.seconds = Math.max(
          last.seconds,
          (lastAnswerAt - startedAt) / 1000 - (windows.length - 1) * options.windowSeconds,
        );
        // The last window's figures are sampled once every answer is in.
        options.atWindowEnd(windows.length - 1);
        resolve(windows);
      },
    );
    instance.on('start', () => {
      startedAt = performance.now();
      for (let i = 0; i < options.windows - 1; i++) {
        timers.push(
          setTimeout(() => options.atWindowEnd(i), (i + 1) * options.windowSeconds * 1000),
        );
      }
    });
    instance.on('response', (_client, statusCode: number, _bytes, responseTime: number) => {
      lastAnswerAt = performance.now();
      const window = at(lastAnswerAt);
      if (statusCode >= 200 && statusCode < 300) {
        window.ok++;
        window.latencies.push(responseTime);
      } else window.non2xx++;
    });
    instance.on('reqError', () => at(performance.now()).errors++);
  });
}

/** The index of the window an event `elapsedMs` after the start falls in (the last one holds the tail). */
export function windowIndex(elapsedMs: number, windowSeconds: number, windows: number): number {
  return Math.min(windows - 1, Math.max(0, Math.floor(elapsedMs / (windowSeconds * 1000))));
}

/** Of paced windows, the one whose p99 is the median (the upper one of an even count). */
export function medianByP99<T extends { paced: { p99Ms: number } }>(windows: T[]): T {
  if (windows.length === 0) throw new Error('no paced window to take the median of');
  const sorted = [...windows].sort((a, b) => a.paced.p99Ms - b.paced.p99Ms);
  return sorted[Math.floor(sorted.length / 2)];
}
