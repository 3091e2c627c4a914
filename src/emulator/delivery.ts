// Heap's delivery behaviour: retry every non-2xx or failed attempt, with exponential backoff and full jitter.
import { setTimeout as delay } from 'node:timers/promises';
import type { SendResult } from '../webhook/send';
import type { RetryPolicy } from './options';

export type Attempt = {
  attempt: number;
  /** When the attempt started (unix ms). */
  at: number;
  /** The HTTP status, or null when no response came (timeout, refused connection, …). */
  status: number | null;
  /** Why the attempt failed, or null when it succeeded. */
  error: string | null;
  latencyMs: number;
  /** The backoff waited before this attempt. */
  waitedMs: number;
};

export type DeliveryOutcome = {
  ok: boolean;
  attempts: Attempt[];
  /** True when the emulator stopped before the delivery succeeded or ran out of attempts. */
  stopped: boolean;
};

export type DeliverOptions = {
  send: () => Promise<SendResult>;
  policy: Pick<RetryPolicy, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs'>;
  random: () => number;
  now: () => number;
  /** Waits `ms`; resolves false if the wait was cut short because the emulator is stopping. */
  wait: (ms: number) => Promise<boolean>;
  /** Told about each attempt as it completes, so progress is visible while a delivery runs. */
  onAttempt?: (attempt: Attempt) => void;
};

const RESPONSE_EXCERPT_LENGTH = 200;

/**
 * The wait before retry number `retry` (1 = the second attempt): uniform in
 * [0, min(maxDelayMs, baseDelayMs · 2^(retry-1))]. Full jitter keeps many failed deliveries
 * from coming back at the same moment.
 */
export function backoffDelayMs(
  retry: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number,
): number {
  // The exponent is capped so a zero base never meets an infinite factor (0 · ∞ is NaN).
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 52));
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)));
}

/** Sends until a 2xx, the last allowed attempt, or a stop; every attempt is recorded. */
export async function deliverWithRetry(options: DeliverOptions): Promise<DeliveryOutcome> {
  const attempts: Attempt[] = [];
  for (let attempt = 1; attempt <= options.policy.maxAttempts; attempt++) {
    const waitedMs =
      attempt === 1 ? 0 : backoffDelayMs(attempt - 1, options.policy, options.random);
    if (attempt > 1 && !(await options.wait(waitedMs))) {
      return { ok: false, attempts, stopped: true };
    }
    const at = options.now();
    const result = await options.send();
    const succeeded = result.ok && result.status >= 200 && result.status < 300;
    const record: Attempt = {
      attempt,
      at,
      status: result.ok ? result.status : null,
      error: succeeded ? null : describeFailure(result),
      latencyMs: Math.round(result.latencyMs),
      waitedMs,
    };
    attempts.push(record);
    options.onAttempt?.(record);
    if (succeeded) return { ok: true, attempts, stopped: false };
  }
  return { ok: false, attempts, stopped: false };
}

/** A wait that ends early (answering false) once `signal` aborts. */
export async function abortableWait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function describeFailure(result: SendResult): string {
  if (!result.ok) return result.error;
  const excerpt = result.body.trim().slice(0, RESPONSE_EXCERPT_LENGTH);
  return excerpt === '' ? `HTTP ${result.status}` : `HTTP ${result.status}: ${excerpt}`;
}
