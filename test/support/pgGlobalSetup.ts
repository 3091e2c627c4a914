// jest global setup: one throwaway PostgreSQL cluster for the run (suites create their own databases).
import {
  findPostgresBin,
  SHARED_URL_ENV,
  SKIP_REASON_ENV,
  startCluster,
  type Cluster,
} from './postgres';

declare global {
  var hpaPostgresCluster: Cluster | undefined;
}

export default async function setup(): Promise<void> {
  const bin = findPostgresBin();
  if (!bin) {
    const reason = 'no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH';
    // In CI a skipped PostgreSQL suite would hide a regression: fail instead.
    if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
    process.env[SKIP_REASON_ENV] = reason;
    console.warn(`\nPostgreSQL tests will be skipped: ${reason}\n`);
    return;
  }
  const cluster = await startCluster(bin);
  globalThis.hpaPostgresCluster = cluster;
  // Workers inherit this environment: the URL without a database name, suites add theirs.
  process.env[SHARED_URL_ENV] = cluster.url('');
  // Ctrl-C would end jest without its teardown or exit hooks; exiting normally runs the hook
  // startCluster registered, which stops the cluster.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
