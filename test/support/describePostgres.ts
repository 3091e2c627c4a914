// jest's describe for PostgreSQL suites (kept apart from postgres.ts, which the benchmark also builds).
import { sharedPostgres } from './postgres';

/**
 * `describe` for PostgreSQL suites: skipped, with a visible message, when there is no cluster
 * (the global setup already failed the run if CI=true).
 */
export function describePostgres(name: string, body: (baseUrl: string) => void): void {
  const shared = sharedPostgres();
  if ('skip' in shared) {
    console.warn(`SKIPPED "${name}": PostgreSQL is not available (${shared.skip})`);
    describe.skip(name, () => body(''));
    return;
  }
  describe(name, () => body(shared.url));
}
