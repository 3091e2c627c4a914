// Heap-like delivery load for multi-process tests: signed POSTs with a deadline, a worker pool, seeded shuffles.
import { signHeapHash } from '../../src/webhook/signature';

export type Answer = {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
  ms: number;
};

/**
 * POSTs a body to an instance's /webhook, signed now unless a header is given (an exact replay).
 * A request still unanswered after `deadlineMs` fails the test instead of hanging it.
 */
export async function deliver(
  baseUrl: string,
  raw: string,
  options: { secret: string; header?: string; deadlineMs?: number },
): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${baseUrl}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'heap-hash': options.header ?? signHeapHash(options.secret, raw),
    },
    body: raw,
    signal: AbortSignal.timeout(options.deadlineMs ?? 30_000),
  });
  const body = (await res.json()) as Record<string, unknown>;
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body,
    ms: Date.now() - started,
  };
}

/** Runs `work` over the items with at most `concurrency` in flight. */
export async function inParallel<T>(
  items: T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** A small seeded PRNG (mulberry32), so a failing random order can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
