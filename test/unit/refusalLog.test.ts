// Refused webhooks are logged at debug; at info only the first after a quiet minute, then one summary a minute.
import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/logger';
import { RefusalLog } from '../../src/webhook/refusalLog';

type Line = { level: number; msg: string; refused?: Record<string, number>; total?: number };

function capture(level: string) {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(text) as Line);
      }
      callback();
    },
  });
  return { lines, logger: createLogger(level, sink) };
}

const refusal = (reason: string) => ({ path: '/webhook', status: 403, reason });

describe('RefusalLog', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('logs a flood at info as the first refusal and then one summary line a minute', () => {
    const { lines, logger } = capture('info');
    const log = new RefusalLog(logger, 60_000);
    for (let i = 0; i < 10_000; i++)
      log.refused(refusal(i % 2 ? 'invalid_signature' : 'missing_signature'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, reason: 'missing_signature' });

    jest.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      level: 30,
      msg: 'webhook refusals in the last minute',
      total: 9999,
      refused: { '403 invalid_signature': 5000, '403 missing_signature': 4999 },
    });

    // Still under attack: the next minute gets one more summary, not a line per request.
    for (let i = 0; i < 500; i++) log.refused(refusal('invalid_signature'));
    jest.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ total: 500 });

    // A quiet minute closes the window; the next refusal is logged at once again.
    jest.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(3);
    log.refused(refusal('invalid_signature'));
    expect(lines).toHaveLength(4);
  });

  it('logs every refusal at debug', () => {
    const { lines, logger } = capture('debug');
    const log = new RefusalLog(logger, 60_000);
    for (let i = 0; i < 5; i++) log.refused(refusal('invalid_signature'));
    expect(
      lines.filter((line) => line.level === 20 && line.msg === 'webhook refused'),
    ).toHaveLength(5);
  });
});
