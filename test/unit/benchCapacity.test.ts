// The capacity model's arithmetic: cost lines, a partner's needs, and the section it renders.
import {
  EXAMPLE_PARTNER,
  capacityLines,
  fitCost,
  partnerNeeds,
  type BackendFigures,
} from '../../bench/capacity';
import type { Measurement, ScenarioRun } from '../../bench/run';
import { FULL } from '../../bench/scenarios';
import { benchMeasurement } from '../support/benchMeasurement';

const measured = benchMeasurement;

const run = (server: Partial<Measurement>, floorSame?: Partial<Measurement>): ScenarioRun => ({
  server: measured(server),
  floorA: measured({}),
  floorB: measured({}),
  floorSame: floorSame && measured(floorSame),
  problems: [],
  notes: [],
});

describe('fitCost', () => {
  it('splits CPU per page into a fixed part and a part per 1,000 users', () => {
    // 1 ms + 2 µs a user: 100 users → 1.2 ms, 2,000 users → 5 ms.
    const line = fitCost({ users: 100, ms: 1.2 }, { users: 2000, ms: 5 });
    expect(line?.fixedMs).toBeCloseTo(1, 6);
    expect(line?.per1000UsersMs).toBeCloseTo(2, 6);
  });

  it('makes nothing up from a missing figure or one page size', () => {
    expect(fitCost({ users: 100, ms: undefined }, { users: 2000, ms: 5 })).toBeUndefined();
    expect(fitCost({ users: 100, ms: NaN }, { users: 2000, ms: 5 })).toBeUndefined();
    expect(fitCost({ users: 100, ms: 1 }, { users: 100, ms: 2 })).toBeUndefined();
  });
});

describe('partnerNeeds', () => {
  it('sizes the example partner', () => {
    const need = partnerNeeds(EXAMPLE_PARTNER);
    // 1,000 × 20 × 6 = 120,000 syncs a day of 500 users in 100-user pages: 5 pages each.
    expect(need.pagesPerDay).toBe(600_000);
    expect(need.usersPerDay).toBe(60_000_000);
    expect(need.averagePagesPerSec).toBeCloseTo(600_000 / 86_400, 6);
    // One cycle (a sixth of the day) within 15 minutes.
    expect(need.peakPagesPerSec).toBeCloseTo(100_000 / 900, 6);
  });

  it('rounds a partial page up', () => {
    expect(partnerNeeds({ ...EXAMPLE_PARTNER, usersPerSync: 101 }).pagesPerDay).toBe(240_000);
  });
});

describe('capacityLines', () => {
  const twoCores = { databaseCores: 2 };
  const postgres: BackendFigures = {
    backend: 'PostgreSQL',
    small: run(
      { pagesPerSec: 300, usersPerSec: 30_000, cpuMsPerPage: 1.2, databaseCpuMsPerPage: 2 },
      { pagesPerSec: 400 },
    ),
    large: run({ pagesPerSec: 60, cpuMsPerPage: 5, databaseCpuMsPerPage: 21 }),
  };

  it('renders cost lines, the database limit and the sizing example from the figures', () => {
    const text = capacityLines([postgres], FULL, twoCores).join('\n');
    expect(text).toContain('## Capacity model');
    expect(text).toContain('| PostgreSQL | 1.000 + 2.000 | 1.000 + 10.000 |');
    // 2 cores / 2 ms = 1,000 pages/s of database CPU; floor P's 400 is well below: commits.
    expect(text).toContain('would allow 1,000 pages/s: the limit here is its commits');
    // One instance flat out: 1,000 / 1.2 ms = 833 pages/s; 400 / 833 = 0.5 instances.
    expect(text).toContain('does 833 small pages/s');
    expect(text).toContain('serves about 0.5 instance(s)');
    // 300 pages/s × 1.2 ms = 0.36 cores busy: the server waited for the database.
    expect(text).toContain('was busy 0.36 cores: it waited for the database');
    // Burst of 111.1 pages/s at 70 % of 300 = 210 pages/s: one instance.
    expect(text).toContain('the burst needs 1 instance(s) at 210.0 pages/s');
    // 600,000 pages × 2 ms = 1,200 s of PostgreSQL CPU = 0.33 core-hours.
    expect(text).toContain('and 0.33 of PostgreSQL CPU');
  });

  it('judges the database CPU-bound when floor P comes close to its CPU ceiling', () => {
    const bound = { ...postgres, small: run(postgres.small!.server, { pagesPerSec: 950 }) };
    expect(capacityLines([bound], FULL, twoCores).join('\n')).toContain(
      'the limit here is its CPU',
    );
  });

  it("takes the database's CPU ceiling from the cores it was given", () => {
    // Floor P's 950 pages/s is close to 2 cores / 2 ms = 1,000, but far below 8 cores' 4,000.
    const bound = { ...postgres, small: run(postgres.small!.server, { pagesPerSec: 950 }) };
    const text = capacityLines([bound], FULL, { databaseCores: 8 }).join('\n');
    expect(text).toContain('its 8 cores would allow 4,000 pages/s: the limit here is its commits');
  });

  it('needs more instances when one is slower than the burst', () => {
    const slow: BackendFigures = {
      backend: 'SQLite',
      small: run({ pagesPerSec: 50, usersPerSec: 5000, cpuMsPerPage: 3 }),
    };
    // 111.1 / (50 × 0.7 = 35) → 4 instances.
    expect(capacityLines([slow], FULL, twoCores).join('\n')).toContain(
      'the burst needs 4 instance(s)',
    );
  });

  it('renders nothing without figures', () => {
    expect(capacityLines([{ backend: 'SQLite' }], FULL, twoCores)).toEqual([]);
  });
});
