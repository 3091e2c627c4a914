// Slows down guessing of the admin token: per-client failure counts with exponential lockouts, bounded memory.

export type ThrottleOptions = {
  /** Failures allowed before lockouts start. */
  freeFailures: number;
  /** The first lockout; each further failure doubles it. */
  baseLockoutMs: number;
  maxLockoutMs: number;
  /** At most this many clients are remembered; the least recently failing is forgotten first. */
  maxClients: number;
  /** A client with no failure for this long starts afresh. */
  forgetAfterMs: number;
};

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 5,
  baseLockoutMs: 1000,
  maxLockoutMs: 15 * 60 * 1000,
  maxClients: 10_000,
  forgetAfterMs: 60 * 60 * 1000,
};

type ClientRecord = { failures: number; lockedUntil: number; lastFailureAt: number };

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export class LoginThrottle {
  private readonly clients = new Map<string, ClientRecord>();

  constructor(private readonly options: ThrottleOptions = DEFAULT_THROTTLE) {}

  /** Whether a client may try a credential now. */
  check(client: string, now: number): ThrottleVerdict {
    const record = this.current(client, now);
    if (!record || record.lockedUntil <= now) return { allowed: true };
    return { allowed: false, retryAfterMs: record.lockedUntil - now };
  }

  /** Records a wrong credential; returns the lockout it causes (0 while failures are free). */
  fail(client: string, now: number): number {
    const record = this.current(client, now) ?? { failures: 0, lockedUntil: 0, lastFailureAt: 0 };
    record.failures += 1;
    record.lastFailureAt = now;
    const over = record.failures - this.options.freeFailures;
    const lockout =
      over > 0
        ? Math.min(
            this.options.maxLockoutMs,
            this.options.baseLockoutMs * 2 ** Math.min(over - 1, 30),
          )
        : 0;
    record.lockedUntil = now + lockout;
    // Re-inserting keeps the Map in least-recently-failed order, so eviction takes the oldest.
    this.clients.delete(client);
    this.clients.set(client, record);
    while (this.clients.size > this.options.maxClients) {
      this.clients.delete(this.clients.keys().next().value as string);
    }
    return lockout;
  }

  succeed(client: string): void {
    this.clients.delete(client);
  }

  /** How many clients are remembered (for tests of the memory bound). */
  get size(): number {
    return this.clients.size;
  }

  private current(client: string, now: number): ClientRecord | undefined {
    const record = this.clients.get(client);
    if (record && now - record.lastFailureAt > this.options.forgetAfterMs) {
      this.clients.delete(client);
      return undefined;
    }
    return record;
  }
}

/**
 * The throttle key of an address: IPv4 as is, IPv6 by its /64 (one host usually owns a whole
 * /64, so per-address keys would let it rotate addresses for free).
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  const [head, tail] = address.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
