// SegmentTurns: at most `depth` of a key's deliveries run at once, in arrival order, other keys untouched, a hung one bounded.
import { SegmentTurns } from '../../src/store/postgres/segmentTurns';

/** Work that runs until released, recording when it started and how many of its key ran at once. */
function recorder() {
  const started: string[] = [];
  const running = new Map<string, number>();
  const most = new Map<string, number>();
  const releases = new Map<string, () => void>();
  const work = (key: string, name: string) => () => {
    started.push(name);
    running.set(key, (running.get(key) ?? 0) + 1);
    most.set(key, Math.max(most.get(key) ?? 0, running.get(key) ?? 0));
    return new Promise<string>((resolve) =>
      releases.set(name, () => {
        running.set(key, (running.get(key) ?? 0) - 1);
        resolve(name);
      }),
    );
  };
  const release = async (name: string) => {
    releases.get(name)?.();
    // Let the released call's turn settle and the next one start.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { started, most, work, release };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('SegmentTurns', () => {
  it('lets two of a segment in at once and the rest in arrival order as those finish', async () => {
    const turns = new SegmentTurns(2, 60_000);
    const r = recorder();
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => turns.run('s1', r.work('s1', name)));
    await flush();
    expect(r.started).toEqual(['a', 'b']);
    await r.release('a');
    expect(r.started).toEqual(['a', 'b', 'c']);
    // Out of order: c finishes before b, and its place goes to d, the next to arrive.
    await r.release('c');
    expect(r.started).toEqual(['a', 'b', 'c', 'd']);
    await r.release('b');
    expect(r.started).toEqual(['a', 'b', 'c', 'd', 'e']);
    await r.release('d');
    await r.release('e');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(r.most.get('s1')).toBe(2);
    expect(turns.size).toBe(0);
  });

  it('with depth 1, one at a time', async () => {
    const turns = new SegmentTurns(1, 60_000);
    const r = recorder();
    const results = ['a', 'b', 'c'].map((name) => turns.run('s1', r.work('s1', name)));
    await flush();
    expect(r.started).toEqual(['a']);
    await r.release('a');
    expect(r.started).toEqual(['a', 'b']);
    await r.release('b');
    await r.release('c');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect(r.most.get('s1')).toBe(1);
  });

  it('keeps segments apart, and work without a segment runs at once', async () => {
    const turns = new SegmentTurns(2, 60_000);
    const r = recorder();
    const all = [
      turns.run('s1', r.work('s1', 'a1')),
      turns.run('s1', r.work('s1', 'b1')),
      turns.run('s1', r.work('s1', 'c1')),
      turns.run('s2', r.work('s2', 'a2')),
      turns.run(undefined, r.work('none', 'x')),
    ];
    await flush();
    expect(r.started).toEqual(['a1', 'b1', 'a2', 'x']);
    for (const name of ['a1', 'b1', 'c1', 'a2', 'x']) await r.release(name);
    await Promise.all(all);
    expect(turns.size).toBe(0);
  });

  it('a failed delivery frees its place like a finished one', async () => {
    const turns = new SegmentTurns(2, 60_000);
    const r = recorder();
    const failing = turns.run('s1', () => Promise.reject(new Error('database said no')));
    const b = turns.run('s1', r.work('s1', 'b'));
    const c = turns.run('s1', r.work('s1', 'c'));
    await expect(failing).rejects.toThrow('database said no');
    await flush();
    expect(r.started).toEqual(['b', 'c']);
    await r.release('b');
    await r.release('c');
    await Promise.all([b, c]);
    expect(turns.size).toBe(0);
  });

  it('a place handed over is not taken by a later arrival', async () => {
    const turns = new SegmentTurns(1, 60_000);
    const r = recorder();
    const a = turns.run('s1', r.work('s1', 'a'));
    const b = turns.run('s1', r.work('s1', 'b'));
    await flush();
    r.release('a').catch(() => undefined);
    // Arrives in the same tick as a's place is handed to b.
    const c = turns.run('s1', r.work('s1', 'c'));
    await flush();
    expect(r.started).toEqual(['a', 'b']);
    expect(r.most.get('s1')).toBe(1);
    await r.release('b');
    expect(r.started).toEqual(['a', 'b', 'c']);
    await r.release('c');
    await Promise.all([a, b, c]);
    expect(turns.size).toBe(0);
  });

  it('a delivery stuck longer than the bound no longer holds the ones behind it', async () => {
    jest.useFakeTimers();
    try {
      const turns = new SegmentTurns(1, 1000);
      const r = recorder();
      void turns.run('s1', r.work('s1', 'hung'));
      const next = turns.run('s1', r.work('s1', 'next'));
      await flush();
      expect(r.started).toEqual(['hung']);
      jest.advanceTimersByTime(999);
      await flush();
      expect(r.started).toEqual(['hung']);
      jest.advanceTimersByTime(1);
      await flush();
      expect(r.started).toEqual(['hung', 'next']);
      await r.release('next');
      await expect(next).resolves.toBe('next');
      await r.release('hung');
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses a depth that admits nothing', () => {
    expect(() => new SegmentTurns(0)).toThrow(RangeError);
    expect(() => new SegmentTurns(1.5)).toThrow(RangeError);
  });
});
