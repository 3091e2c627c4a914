// Releasing memory when the server goes quiet: once per quiet spell, never under a request in flight, at once after a large body.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { runInNewContext } from 'node:vm';
import { collectGarbage } from '../../src/server/gc';
import { IdleMemory } from '../../src/server/idleMemory';

const QUIET = 20;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function request(
  contentLength?: number,
  statusCode = 200,
): { req: IncomingMessage; res: EventEmitter & { statusCode: number } } {
  const headers = contentLength === undefined ? {} : { 'content-length': String(contentLength) };
  return {
    req: { headers } as IncomingMessage,
    res: Object.assign(new EventEmitter(), { statusCode }),
  };
}

/** An IdleMemory whose releases are counted, with a promise for the next one. */
function watched(
  options: {
    quietMs?: number;
    largeBodyBytes?: number;
    largeGapMs?: number;
    now?: () => number;
  } = {},
) {
  let releases = 0;
  let wake: (() => void) | undefined;
  const idle = new IdleMemory({
    quietMs: QUIET,
    ...options,
    release: async () => {
      releases++;
      wake?.();
    },
  });
  return {
    idle,
    releases: () => releases,
    nextRelease: () => new Promise<void>((resolve) => (wake = resolve)),
  };
}

describe('IdleMemory', () => {
  it('releases once after start-up goes quiet, and not again while nothing comes', async () => {
    const w = watched();
    try {
      await w.nextRelease();
      await pause(QUIET * 5);
      expect(w.releases()).toBe(1);
    } finally {
      w.idle.stop();
    }
  });

  it('waits for the request in flight, then releases once the spell after it is quiet', async () => {
    const w = watched();
    try {
      await w.nextRelease();
      const { req, res } = request(100);
      w.idle.observe(req, res);
      await pause(QUIET * 5);
      expect(w.releases()).toBe(1);
      const released = w.nextRelease();
      res.emit('close');
      await released;
      expect(w.releases()).toBe(2);
    } finally {
      w.idle.stop();
    }
  });

  it('releases as soon as the last request in flight ends after one with a large body', async () => {
    // A quiet spell of an hour: only the large body can cause this release.
    const w = watched({ quietMs: 3_600_000, largeBodyBytes: 1000 });
    try {
      const big = request(1000);
      const small = request(10);
      w.idle.observe(big.req, big.res);
      w.idle.observe(small.req, small.res);
      big.res.emit('close');
      await pause(QUIET);
      // Not while another request is still in flight.
      expect(w.releases()).toBe(0);
      const released = w.nextRelease();
      small.res.emit('close');
      await released;
      expect(w.releases()).toBe(1);
    } finally {
      w.idle.stop();
    }
  });

  it('does not release for requests below the size, refused large ones, nor after stop()', async () => {
    const w = watched({ quietMs: 3_600_000, largeBodyBytes: 1000 });
    const small = request(999);
    w.idle.observe(small.req, small.res);
    small.res.emit('close');
    // A forged large body (refused 401) must not buy a full collection.
    for (const status of [401, 413, 503]) {
      const forged = request(5000, status);
      w.idle.observe(forged.req, forged.res);
      forged.res.emit('close');
    }
    const chunked = request();
    w.idle.observe(chunked.req, chunked.res);
    chunked.res.emit('close');
    await pause(QUIET * 2);
    expect(w.releases()).toBe(0);
    w.idle.stop();
    await w.idle.releaseNow();
    expect(w.releases()).toBe(0);
  });

  it('spaces large-body releases: a replayed signed page answered 200 cannot buy one each time', async () => {
    /** Accepted large bodies at these clock times, each answered and its release done before the next. */
    const releasesFor = async (largeGapMs: number, times: number[]) => {
      let clock = 0;
      const w = watched({ quietMs: 3_600_000, largeBodyBytes: 1000, largeGapMs, now: () => clock });
      try {
        for (const at of times) {
          clock = at;
          const big = request(5000);
          w.idle.observe(big.req, big.res);
          big.res.emit('close');
          await pause(QUIET);
        }
        return w.releases();
      } finally {
        w.idle.stop();
      }
    };
    const times = [0, 10, 500, 999, 1000, 1500, 2500];
    // Unspaced, every one of them releases (so the spacing below is what holds them back).
    expect(await releasesFor(0, times)).toBe(times.length);
    // Spaced by a second: at 0, 1000 and 2500 only.
    expect(await releasesFor(1000, times)).toBe(3);
  });
});

describe('collectGarbage', () => {
  it('collects this thread: an object only a WeakRef holds is gone afterwards', async () => {
    let ref: WeakRef<object> | undefined;
    (() => {
      ref = new WeakRef({ payload: new Array(1000).fill('x') });
    })();
    // A WeakRef's target stays alive until the job that created it is over.
    await new Promise((resolve) => setImmediate(resolve));
    expect(collectGarbage()).toBe(true);
    expect(ref?.deref()).toBeUndefined();
  });

  it('leaves no gc function behind in the global scope or in new contexts', () => {
    collectGarbage();
    if (!process.execArgv.includes('--expose-gc')) {
      expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    }
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});
