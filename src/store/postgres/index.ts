// heap-partner-api/postgres: the PostgreSQL store for many app instances, opened on a migrated database.
import { PostgresStore, type MigrationReport, type PostgresStoreOptions } from './store';

export {
  PostgresStore,
  runMigrations,
  type MigrationReport,
  type OpenPostgresOptions,
  type PostgresStoreOptions,
} from './store';
export { MigrationError } from './migrations';

export type OpenPostgresStoreOptions = PostgresStoreOptions & {
  /**
   * 'apply' (the default) runs pending migrations under the migration lock, so instances
   * starting together are safe; 'verify' refuses to open while any are pending.
   */
  migrations?: 'apply' | 'verify';
  /** Told what the migrations step found (what was applied, versions this build does not know). */
  onMigrations?: (report: MigrationReport) => void;
};

/** Opens a PostgreSQL store after applying (or verifying) its migrations. */
export async function openPostgresStore(options: OpenPostgresStoreOptions): Promise<PostgresStore> {
  const { store, migrations } = await PostgresStore.open({
    ...options,
    migrations: options.migrations ?? 'apply',
  });
  options.onMigrations?.(migrations);
  return store;
}
