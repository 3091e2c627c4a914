// sharedReadiness: a flood of /readyz costs one store probe per reuse window, and failures still show.
import { sharedReadiness } from '../../src/store/health';
import type { HealthCheck, HealthProbe } from '../../src/store/types';

function countingStore(answer: () => Record<string, HealthCheck>) {
  const store = {
    probes: 0,
    probe(): Promise<Record<string, HealthCheck>> {
      store.probes += 1;
      return new Promise((resolve) => setTimeout(() => resolve(answer()), 5));
    },
  };
  return store satisfies HealthProbe & { probes: number };
}

describe('sharedReadiness', () => {
  it('answers 50 concurrent callers with one probe, and probes again after the reuse window', async () => {
    let clock = 0;
    const store = countingStore(() => ({ writer: { ok: true } }));
    const readiness = sharedReadiness(store, 1000, { reuseMs: 1000, now: () => clock });

    const answers = await Promise.all(Array.from({ length: 50 }, () => readiness()));
    expect(store.probes).toBe(1);
    expect(answers.every((answer) => answer.ready)).toBe(true);

    clock = 999;
    await readiness();
    expect(store.probes).toBe(1);
    clock = 1000;
    await readiness();
    expect(store.probes).toBe(2);
  });

  it('reports a failing check from the shared probe, then recovers on the next window', async () => {
    let clock = 0;
    let healthy = false;
    const store = countingStore(() => ({
      writer: healthy ? { ok: true } : { ok: false, reason: 'SQLITE_BUSY' },
    }));
    const readiness = sharedReadiness(store, 1000, { reuseMs: 1000, now: () => clock });

    expect(await readiness()).toMatchObject({
      ready: false,
      checks: { writer: { ok: false, reason: 'SQLITE_BUSY' } },
    });
    healthy = true;
    expect((await readiness()).ready).toBe(false);
    clock = 1500;
    expect((await readiness()).ready).toBe(true);
  });
});
