// Per-segment admission for apply_delivery calls from this process: at most `depth` of a segment's deliveries in the database at once.

/**
 * How many of one segment's deliveries this process lets into PostgreSQL at once: the one holding
 * the segment's row lock and one waiting on it. The waiter has already sent its call, so it runs
 * the moment the holder commits (no round trip and no event-loop turn between two deliveries of a
 * segment), and one commit wakes one waiter. The rest wait in memory: with all of them waiting in
 * PostgreSQL (bench/pgStatements.ts: 7 of 10 backends on that lock in the small scenario), each
 * commit woke every waiter to retry its upsert through the lock manager, which cost the database
 * CPU, and each waiter held a pool connection and an old snapshot.
 */
export const SEGMENT_DEPTH = 2;

/**
 * Longest a delivery waits in memory for a turn before it goes to the database anyway: far above a
 * healthy delivery's turn (milliseconds), far below the answer bounds.
 */
export const SEGMENT_TURN_MS = 1000;

/** One key's deliveries: how many hold a place, and the ones waiting for one, first come first. */
type Lane = { running: number; waiting: Array<() => void> };

/**
 * Admission by key: at most `depth` of a key's deliveries run at once, the others wait in arrival
 * order and each takes the place of one that finished. Only an optimisation: the row lock still
 * orders deliveries (and other instances'), and a delivery that waited `turnMs` goes to the
 * database anyway, so a hung call cannot hold a segment's later deliveries.
 */
export class SegmentTurns {
  /** Per key with deliveries in flight (a key with none is absent). */
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly depth = SEGMENT_DEPTH,
    private readonly turnMs = SEGMENT_TURN_MS,
  ) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError('depth must be an integer ≥ 1');
  }

  /** Runs `work` in its turn for `key`; without a key it runs at once. */
  async run<T>(key: string | undefined, work: () => Promise<T>): Promise<T> {
    if (key === undefined) return work();
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { running: 0, waiting: [] };
      this.lanes.set(key, lane);
    }
    if (lane.running < this.depth) lane.running++;
    else await this.place(lane);
    try {
      return await work();
    } finally {
      // The place goes straight to the next waiter, so no later arrival can take it first.
      const next = lane.waiting.shift();
      if (next) next();
      else if (--lane.running === 0) this.lanes.delete(key);
    }
  }

  /** Resolves holding a place: handed over by a finishing delivery, or taken after `turnMs`. */
  private place(lane: Lane): Promise<void> {
    return new Promise<void>((resolve) => {
      const handOver = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        lane.waiting.splice(lane.waiting.indexOf(handOver), 1);
        lane.running++;
        resolve();
      }, this.turnMs);
      // The delivery's own connection keeps the process alive while it matters; this never should.
      timer.unref();
      lane.waiting.push(handOver);
    });
  }

  /** Keys with deliveries in flight (for tests: nothing is kept once a key's work is done). */
  get size(): number {
    return this.lanes.size;
  }
}
