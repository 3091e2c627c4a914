// The size of a bench database on PostgreSQL: the database's files plus the cluster's WAL directory.
import pg from 'pg';

/**
 * pg_database_size of the database plus the WAL directory's size (pg_ls_waldir, which needs a
 * superuser or pg_monitor; 0 without). The WAL is the cluster's, shared by every database in it:
 * the bench runs one scenario at a time, so it is this run's.
 */
export async function postgresBytes(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const database = await client.query<{ size: string }>(
      'SELECT pg_database_size(current_database())::text AS size',
    );
    let wal = 0;
    try {
      const result = await client.query<{ size: string | null }>(
        'SELECT sum(size)::text AS size FROM pg_ls_waldir()',
      );
      wal = Number(result.rows[0].size ?? 0);
    } catch {
      wal = 0;
    }
    return Number(database.rows[0].size) + wal;
  } finally {
    await client.end();
  }
}
