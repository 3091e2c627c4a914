// heap-partner-api/sqlite: the embedded SQLite store (one file), on a worker thread or the caller's.
import { SqliteStore } from './store';
import { SqliteWorkerStore } from './workerStore';
import type { Store } from '../types';

export { SqliteStore, type SqliteStoreOptions } from './store';
export { SqliteWorkerStore } from './workerStore';

export type OpenSqliteStoreOptions = {
  /** The database file; created (mode 0600) and migrated to the latest schema if needed. */
  file: string;
  busyTimeoutMs?: number;
  /**
   * Where SQLite runs: in a worker thread (the default: its synchronous statements and fsyncs
   * then leave the event loop free), or on the calling thread (the storage engine alone).
   */
  thread?: 'worker' | 'caller';
  /**
   * How much of the file the connection that answers queries maps (PRAGMA mmap_size): on the
   * worker setup, the read-only connection on the calling thread (default 256 MiB); with
   * `thread: 'caller'`, the one connection (default: SQLite's, none). 0 turns it off.
   */
  mmapBytes?: number;
};

/** Opens (creating and migrating) an SQLite store. */
export async function openSqliteStore(options: OpenSqliteStoreOptions): Promise<Store> {
  const { thread = 'worker', ...sqlite } = options;
  return thread === 'caller' ? new SqliteStore(sqlite) : SqliteWorkerStore.open(sqlite);
}
