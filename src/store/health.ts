// Store readiness for /readyz: a backend's probe bounded by a deadline, failures as safe values.
import { isStoreUnavailable } from './errors';
import type { HealthCheck, HealthProbe } from './types';

export type Readiness = { ready: boolean; checks: Record<string, HealthCheck> };

/**
 * A failed check's reason. Only our own StoreUnavailableError messages are shown (they name an
 * error code, never a host or a credential); anything else is reported without its text.
 */
export function failedCheck(error: unknown): HealthCheck {
  return { ok: false, reason: isStoreUnavailable(error) ? error.message : 'unexpected error' };
}

/**
 * Probes the store, giving up after `deadlineMs`: a store that hangs (a frozen database, a
 * writer stuck behind a lock) must make the instance unready, not the probe wait. The backend
 * gets most of the deadline for the checks it can bound itself, so those fail by their own name;
 * only what it cannot bound (a connection that never opens, a thread that never answers) is
 * cut off here, as `store`.
 */
export async function checkReadiness(store: HealthProbe, deadlineMs: number): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Record<string, HealthCheck>>((resolve) => {
    timer = setTimeout(
      () => resolve({ store: { ok: false, reason: `no answer within ${deadlineMs} ms` } }),
      deadlineMs,
    );
  });
  const probed = store
    .probe(Math.max(1, Math.floor(deadlineMs * 0.8)))
    .catch((error: unknown) => ({ store: failedCheck(error) }));
  const checks = await Promise.race([probed, deadline]).finally(() => clearTimeout(timer));
  // The app is only built on a store that has opened, and opening applies (or verifies) every
  // migration; while it is still opening, the server's starting handler answers instead.
  const all = { ...checks, migrations: { ok: true } as HealthCheck };
  return { ready: Object.values(all).every((check) => check.ok), checks: all };
}

/** How long one readiness answer is reused: load balancers probe every few seconds, not faster. */
export const READINESS_REUSE_MS = 1000;

/**
 * /readyz is unauthenticated, and each probe takes SQLite's write lock or a PostgreSQL pool
 * connection that deliveries then wait behind. So concurrent requests share one probe, and its
 * answer is reused for `reuseMs`: a flood of /readyz costs at most one probe a second.
 */
export function sharedReadiness(
  store: HealthProbe,
  deadlineMs: number,
  options: { reuseMs?: number; now?: () => number } = {},
): () => Promise<Readiness> {
  const reuseMs = options.reuseMs ?? READINESS_REUSE_MS;
  const now = options.now ?? Date.now;
  let last: { at: number; result: Promise<Readiness> } | undefined;
  return () => {
    if (last === undefined || now() - last.at >= reuseMs) {
      last = { at: now(), result: checkReadiness(store, deadlineMs) };
    }
    return last.result;
  };
}
