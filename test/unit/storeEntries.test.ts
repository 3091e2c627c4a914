// The store subpath entries (heap-partner-api/sqlite, /postgres) load their own driver and no web framework.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

/** The packages a fresh Node process has loaded after requiring one entry (from source). */
function packagesLoadedBy(entry: string): string[] {
  const script = `require(${JSON.stringify(path.join(root, entry))});
    const names = new Set();
    for (const file of Object.keys(require.cache)) {
      const match = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file);
      if (match) names.add(match[1]);
    }
    process.stdout.write(JSON.stringify([...names]));`;
  const output = execFileSync(
    process.execPath,
    ['--require', 'ts-node/register/transpile-only', '-e', script],
    { cwd: root, encoding: 'utf8' },
  );
  return JSON.parse(output) as string[];
}

describe('store subpath entries', () => {
  it('the SQLite entry loads better-sqlite3, neither express nor pg', () => {
    const loaded = packagesLoadedBy('src/store/sqlite/index.ts');
    expect(loaded).toContain('better-sqlite3');
    expect(loaded).not.toContain('express');
    expect(loaded).not.toContain('pg');
  });

  it('the PostgreSQL entry loads pg, neither express nor better-sqlite3', () => {
    const loaded = packagesLoadedBy('src/store/postgres/index.ts');
    expect(loaded).toContain('pg');
    expect(loaded).not.toContain('express');
    expect(loaded).not.toContain('better-sqlite3');
  });

  it('exports what the package documents', async () => {
    const sqlite = await import('../../src/store/sqlite/index');
    const postgres = await import('../../src/store/postgres/index');
    expect(typeof sqlite.openSqliteStore).toBe('function');
    expect(typeof sqlite.SqliteStore).toBe('function');
    expect(typeof sqlite.SqliteWorkerStore).toBe('function');
    expect(typeof postgres.openPostgresStore).toBe('function');
    expect(typeof postgres.PostgresStore).toBe('function');
  });
});
