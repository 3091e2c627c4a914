// The retention job on its timer: runs shortly after start, then every interval, logs what it deleted, stops cleanly.
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/logger';
import { DAY_MS, RetentionJob, type RetentionPolicy } from '../../src/store/retention';
import { SqliteWorkerStore } from '../../src/store/sqlite/workerStore';
import { tempDir } from '../support/testApp';

const policy: RetentionPolicy = {
  signatureMaxAgeMs: 6 * 60_000,
  deliveriesMaxAgeMs: 30 * DAY_MS,
  syncTasksMaxAgeMs: 30 * DAY_MS,
  changesMaxAgeMs: 90 * DAY_MS,
};

function capture() {
  const lines: { level: number; msg: string; deleted?: Record<string, number> }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(text) as (typeof lines)[number]);
      }
      callback();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

it('runs soon after start and on its interval, logging one line a run with what it deleted', async () => {
  const store = await SqliteWorkerStore.open({
    file: path.join(tempDir('hpa-retention-'), 'store.sqlite'),
  });
  const { lines, logger } = capture();
  let now = Date.now();
  try {
    for (let i = 0; i < 25; i++) {
      await store.recordRejected({
        meta: { receivedAt: now - 40 * DAY_MS, path: '/webhook', bodySha256: null },
        httpStatus: 400,
        reason: 'invalid_payload',
      });
    }
    const job = new RetentionJob(store, policy, logger, {
      now: () => now,
      batchSize: 10,
      pauseMs: 0,
      firstRunDelayMs: 20,
      intervalMs: 100,
    });
    job.start();
    const runs = () => lines.filter((line) => line.msg === 'retention: deleted expired rows');
    await until(() => runs().length >= 1);
    expect(runs()[0].deleted).toMatchObject({ deliveries: 25, changes: 0 });
    expect(await store.listDeliveries({ limit: 100 })).toEqual([]);

    // Time passes; the next run finds what aged meanwhile.
    await store.recordRejected({
      meta: { receivedAt: now, path: '/webhook', bodySha256: null },
      httpStatus: 400,
      reason: 'invalid_payload',
    });
    now += 31 * DAY_MS;
    await until(() => runs().some((run) => run.deleted?.deliveries === 1));

    await job.stop();
    const count = runs().length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs()).toHaveLength(count);
  } finally {
    await store.close();
  }
});

it('logs a failed run as a warning and keeps its schedule', async () => {
  const store = await SqliteWorkerStore.open({
    file: path.join(tempDir('hpa-retention-'), 'store.sqlite'),
  });
  const { lines, logger } = capture();
  await store.close();
  const job = new RetentionJob(store, policy, logger, { intervalMs: 60_000, pauseMs: 0 });
  expect(await job.runOnce()).toBeUndefined();
  expect(lines).toMatchObject([{ level: 40, msg: 'retention run failed; the next run retries' }]);
  await job.stop();
});
