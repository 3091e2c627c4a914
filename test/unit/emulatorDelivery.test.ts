// Unit tests for the emulator's retry policy: full-jitter bounds, and when deliverWithRetry stops.
import { backoffDelayMs, deliverWithRetry, type DeliverOptions } from '../../src/emulator/delivery';
import type { SendResult } from '../../src/webhook/send';

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelayMs', () => {
  it('doubles the ceiling with each retry and caps it at maxDelayMs', () => {
    const ceiling = (retry: number) => backoffDelayMs(retry, policy, () => 0.999999999);
    expect([1, 2, 3, 4, 5, 6].map(ceiling)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('draws uniformly from zero to the ceiling (full jitter)', () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(200);
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelayMs(3, policy, Math.random);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(400);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('never exceeds the ceiling even if random() returns 1', () => {
    expect(backoffDelayMs(2, policy, () => 1)).toBe(200);
  });

  it('stays finite for a zero base and a huge retry number', () => {
    expect(backoffDelayMs(5000, { baseDelayMs: 0, maxDelayMs: 1000 }, () => 0.5)).toBe(0);
    expect(backoffDelayMs(5000, policy, () => 0.999)).toBeLessThanOrEqual(1000);
  });
});

describe('deliverWithRetry', () => {
  const ok = (status: number): SendResult => ({ ok: true, status, body: '{}', latencyMs: 3.4 });
  const run = (responses: SendResult[], overrides: Partial<DeliverOptions> = {}) => {
    const waits: number[] = [];
    let sent = 0;
    const outcome = deliverWithRetry({
      send: async () => responses[Math.min(sent++, responses.length - 1)],
      policy,
      random: () => 0.5,
      now: () => 1_700_000_000_000,
      wait: async (ms) => {
        waits.push(ms);
        return true;
      },
      ...overrides,
    });
    return { outcome, waits, sent: () => sent };
  };

  it('stops at the first 2xx and records every attempt with its status and latency', async () => {
    const { outcome, waits, sent } = run([
      ok(503),
      { ok: false, error: 'timed out', latencyMs: 50 },
      ok(204),
    ]);
    const result = await outcome;
    expect(result.ok).toBe(true);
    expect(sent()).toBe(3);
    expect(result.attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, 503, 'HTTP 503: {}'],
      [2, null, 'timed out'],
      [3, 204, null],
    ]);
    expect(result.attempts[0].latencyMs).toBe(3);
    expect(waits).toEqual([50, 100]);
    expect(result.attempts.map((a) => a.waitedMs)).toEqual([0, 50, 100]);
  });

  it('retries 4xx too (Heap retries every non-2xx) and gives up after maxAttempts', async () => {
    const { outcome, sent } = run([ok(400)]);
    const result = await outcome;
    expect(result).toMatchObject({ ok: false, stopped: false });
    expect(sent()).toBe(4);
    expect(result.attempts.every((a) => a.status === 400)).toBe(true);
  });

  it('treats a redirect as a failure', async () => {
    const result = await run([ok(302), ok(200)]).outcome;
    expect(result.attempts.map((a) => a.status)).toEqual([302, 200]);
  });

  it('stops without another attempt when the wait is cut short', async () => {
    const { outcome, sent } = run([ok(500)], { wait: async () => false });
    const result = await outcome;
    expect(result).toMatchObject({ ok: false, stopped: true });
    expect(sent()).toBe(1);
  });
});
