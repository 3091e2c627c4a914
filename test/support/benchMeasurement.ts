// A bench Measurement for report and model tests: one completed page in one second, no CPU.
import type { Measurement } from '../../bench/run';

/** A Measurement with `figures` over a neutral base (1 page, 1 s, no CPU, no database metered). */
export function benchMeasurement(figures: Partial<Measurement>): Measurement {
  return {
    completed: 1,
    non2xx: 0,
    errors: 0,
    seconds: 1,
    cpu: {
      target: 0,
      generator: 0,
      database: 0,
      foreign: 0,
      stolen: 0,
      targetMs: 0,
      databaseMs: NaN,
    },
    ...figures,
  };
}
