// jest global teardown: stops the run's PostgreSQL cluster (-m immediate) and deletes its files.
export default function teardown(): void {
  const cluster = globalThis.hpaPostgresCluster;
  globalThis.hpaPostgresCluster = undefined;
  cluster?.destroy();
}
