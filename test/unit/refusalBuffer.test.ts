// The in-memory refusal counters: one write per flush, counts kept across a failed write, memory bounded.
import {
  MAX_REFUSAL_KEYS,
  MINUTE_MS,
  OVERFLOW_REASON,
  RefusalBuffer,
} from '../../src/store/refusalBuffer';
import type { RefusalCount } from '../../src/store/types';

const total = (counts: RefusalCount[]) => counts.reduce((sum, c) => sum + c.count, 0);

describe('RefusalBuffer', () => {
  it('writes nothing until flushed, then everything in one write', async () => {
    const writes: RefusalCount[][] = [];
    const buffer = new RefusalBuffer(async (counts) => void writes.push(counts));
    for (let i = 0; i < 1000; i++)
      buffer.count({ reason: 'invalid_signature', httpStatus: 403, at: 5 });
    expect(writes).toEqual([]);
    await buffer.flush();
    expect(writes).toEqual([
      [{ minute: 0, reason: 'invalid_signature', httpStatus: 403, count: 1000 }],
    ]);
    await buffer.close();
    expect(writes).toHaveLength(1);
  });

  it('keeps the counts of a failed write for the next, with memory bounded however long it fails', async () => {
    let failing = true;
    const written: RefusalCount[][] = [];
    const buffer = new RefusalBuffer(async (counts) => {
      if (failing) throw new Error('store down');
      written.push(counts);
    });
    // Two hours of an outage, a new reason every refusal, a flush attempt every minute.
    let sent = 0;
    for (let minute = 0; minute < 120; minute++) {
      for (let i = 0; i < 50; i++) {
        buffer.count({ reason: `r${minute}-${i}`, httpStatus: 403, at: minute * MINUTE_MS });
        sent += 1;
      }
      await expect(buffer.flush()).rejects.toThrow('store down');
    }
    failing = false;
    await buffer.close();
    const [counts] = written;
    expect(counts.length).toBeLessThanOrEqual(MAX_REFUSAL_KEYS + 64);
    expect(counts.some((c) => c.reason === OVERFLOW_REASON)).toBe(true);
    // Only what exceeded even the overflow keys is lost; the rest arrives.
    expect(total(counts)).toBeGreaterThan(MAX_REFUSAL_KEYS);
    expect(total(counts)).toBeLessThanOrEqual(sent);
  });

  it('coalesces flushes while a write is slow: callers join the one queued, and see their counts written', async () => {
    const writes: RefusalCount[][] = [];
    let release: () => void = () => undefined;
    const buffer = new RefusalBuffer(async (counts) => {
      writes.push(counts);
      await new Promise<void>((resolve) => (release = resolve));
    });
    buffer.count({ reason: 'invalid_signature', httpStatus: 403, at: 5 });
    const first = buffer.flush(); // starts writing 1, then waits on the store
    await Promise.resolve();
    const waiting: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      buffer.count({ reason: 'invalid_signature', httpStatus: 403, at: 5 });
      waiting.push(buffer.flush());
    }
    // One write is running; the 100 callers share the one queued behind it.
    expect(new Set(waiting).size).toBe(1);
    expect(writes).toHaveLength(1);
    release();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(2);
    release();
    await Promise.all(waiting);
    expect(writes.map(total)).toEqual([1, 100]);
    // A flush after that starts a new write of its own.
    buffer.count({ reason: 'invalid_signature', httpStatus: 403, at: 5 });
    const later = buffer.flush();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await later;
    expect(writes.map(total)).toEqual([1, 100, 1]);
  });
});
