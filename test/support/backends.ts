// Runs HTTP-level suites once per store backend (SQLite, PostgreSQL) to show the app behaves the same on both.
import type { Environment } from '../../src/config/index';
import { createDatabase } from './postgres';
import { describePostgres } from './describePostgres';
import { openTestApp, type TestApp } from './testApp';

export type StoreBackend = {
  name: 'sqlite' | 'postgres';
  /** Environment for a new, empty store: nothing (SQLite in DATA_DIR) or a fresh DATABASE_URL. */
  env: () => Promise<Environment>;
};

/**
 * Runs a describe block once per store backend: SQLite, and PostgreSQL when there is a cluster
 * (skipped with a message otherwise).
 */
export function describeEachStore(title: string, body: (backend: StoreBackend) => void): void {
  describe(`${title} [sqlite]`, () => body({ name: 'sqlite', env: async () => ({}) }));
  describePostgres(`${title} [postgres]`, (baseUrl) =>
    body({
      name: 'postgres',
      env: async () => ({ DATABASE_URL: await createDatabase(baseUrl) }),
    }),
  );
}

/** Before each test, the app on a new, empty store of the backend (handed to `use`); closed after. */
export function onFreshStore(backend: StoreBackend, use: (app: TestApp) => void): void {
  let app: TestApp;
  beforeEach(async () => {
    app = await openTestApp(await backend.env());
    use(app);
  });
  afterEach(async () => {
    await app.close();
  });
}
