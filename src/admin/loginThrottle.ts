// Slows down guessing of the admin token: per-client exponential lockouts plus a global failure budget, bounded memory.

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
  /**
   * Wrong credentials allowed per window across every client. Beyond it, clients that have not
   * signed in successfully before wait until the window has room again, so a guesser spread
   * over many addresses is held to this rate too.
   */
  globalFailures: number;
  globalWindowMs: number;
};

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 5,
  baseLockoutMs: 1000,
  maxLockoutMs: 15 * 60 * 1000,
  maxClients: 10_000,
  forgetAfterMs: 60 * 60 * 1000,
  globalFailures: 30,
  globalWindowMs: 60 * 1000,
};

/** Addresses that signed in successfully, remembered so a global lockout does not shut them out. */
const MAX_KNOWN_CLIENTS = 1000;

type ClientRecord = { failures: number; lockedUntil: number; lastFailureAt: number };

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export class LoginThrottle {
  private readonly clients = new Map<string, ClientRecord>();
  /** Times of the latest failures from any client, oldest first, at most globalFailures. */
  private readonly recentFailures: number[] = [];
  /** Clients that signed in successfully, least recent first. */
  private readonly known = new Set<string>();
  /** The client added to `known` last (its most recent entry). */
  private lastKnown: string | undefined;

  constructor(private readonly options: ThrottleOptions = DEFAULT_THROTTLE) {}

  /** Whether a client may try a credential now. */
  check(client: string, now: number): ThrottleVerdict {
    const record = this.current(client, now);
    if (record && record.lockedUntil > now) {
      return { allowed: false, retryAfterMs: record.lockedUntil - now };
    }
    const globalWait = this.globalWaitMs(now);
    if (globalWait > 0 && !this.known.has(client)) {
      return { allowed: false, retryAfterMs: globalWait };
    }
    return { allowed: true };
  }

  /** How long until the global budget has room again (0: it has room now). */
  private globalWaitMs(now: number): number {
    const window = this.options.globalWindowMs;
    while (this.recentFailures.length > 0 && this.recentFailures[0] <= now - window) {
      this.recentFailures.shift();
    }
    if (this.recentFailures.length < this.options.globalFailures) return 0;
    return this.recentFailures[0] + window - now;
  }

  /** Records a wrong credential; returns the lockout it causes (0 while failures are free). */
  fail(client: string, now: number): number {
    const record = this.current(client, now) ?? { failures: 0, lockedUntil: 0, lastFailureAt: 0 };
    this.recentFailures.push(now);
    if (this.recentFailures.length > this.options.globalFailures) this.recentFailures.shift();
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
    if (this.clients.size > 0) this.clients.delete(client);
    // An API client calling again (every request of a busy one) is already the most recent.
    if (this.lastKnown === client) return;
    this.known.delete(client);
    this.known.add(client);
    this.lastKnown = client;
    if (this.known.size > MAX_KNOWN_CLIENTS) {
      this.known.delete(this.known.values().next().value as string);
    }
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
