// Floor A+C / A+P, the lookup over HTTP with nothing in the way: bare node:http running the store's own user → segments statement.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import { tenantOfKey } from '../src/admin/urlKeys';
import { userSegmentView } from '../src/admin/views';
import { SEGMENTS_OF_USER_SQL as POSTGRES_SQL } from '../src/store/postgres/store';
import { SEGMENTS_OF_USER_SQL as SQLITE_SQL } from '../src/store/sqlite/store';
import { READER_MMAP_BYTES } from '../src/store/sqlite/workerStore';
import type { UserSegment } from '../src/store/types';

/**
 * The server's lookup minus everything but the work: the same path, the same statement on the same
 * store (SQLite: a read-only connection on the main thread, mapped as the server maps its reader;
 * PostgreSQL: a pool of the server's size, the statement prepared), the same JSON answer. No
 * Express, no authentication, no security headers, no metrics, no logging. Started by the bench
 * with FLOOR_LOOKUP_SQLITE_FILE or FLOOR_LOOKUP_DATABASE_URL; prints {"port", "msg":"listening"}.
 */
type Lookup = (tenant: string, userId: string) => Promise<UserSegment[]>;

function sqliteLookup(file: string): Lookup {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma(`mmap_size = ${READER_MMAP_BYTES}`);
  const statement = db.prepare(SQLITE_SQL);
  return (tenant, userId) => Promise.resolve(statement.all(tenant, userId) as UserSegment[]);
}

function postgresLookup(url: string): Lookup {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  return async (tenant, userId) => {
    const { rows } = await pool.query<{
      segment_id: number;
      name: string | null;
      added_at: number;
    }>({
      name: 'floor-lookup',
      text: POSTGRES_SQL,
      values: [userId, tenant],
    });
    return rows.map((row) => ({
      segmentId: Number(row.segment_id),
      name: row.name,
      addedAt: Number(row.added_at),
    }));
  };
}

const sqliteFile = process.env.FLOOR_LOOKUP_SQLITE_FILE;
const databaseUrl = process.env.FLOOR_LOOKUP_DATABASE_URL;
if (!sqliteFile === !databaseUrl) {
  throw new Error('floorHttpLookup needs FLOOR_LOOKUP_SQLITE_FILE or FLOOR_LOOKUP_DATABASE_URL');
}
const lookup = sqliteFile ? sqliteLookup(sqliteFile) : postgresLookup(databaseUrl as string);
const LOOKUP_PATH = /^\/api\/connections\/([^/]+)\/users\/([^/]+)\/segments$/;

const server = http.createServer((req, res) => {
  const answer = (status: number, body: string) => {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  const match = LOOKUP_PATH.exec(req.url ?? '');
  if (req.method !== 'GET' || !match) {
    answer(404, '{"error":"not_found"}');
    return;
  }
  lookup(tenantOfKey(decodeURIComponent(match[1])), decodeURIComponent(match[2])).then(
    (segments) => answer(200, JSON.stringify({ segments: segments.map(userSegmentView) })),
    (error: unknown) => answer(500, JSON.stringify({ error: String(error) })),
  );
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port, msg: 'listening' })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
